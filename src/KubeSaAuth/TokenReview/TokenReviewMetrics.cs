// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace KubeSaAuth.TokenReview;

/// <summary>
/// <c>kubesa.tokenreview.requests</c> on the <c>KubeSaAuth</c> meter: TokenReview verdicts by result
/// (<c>authenticated</c>, <c>rejected</c>, <c>error</c>), scheme and cache (<c>hit</c>/<c>miss</c>).
/// </summary>
internal sealed class TokenReviewMetrics
{
    public TokenReviewMetrics(IMeterFactory meterFactory)
    {
        // The factory hands back the same meter for the same name: these instruments join kubesa.tokens.*.
        var meter = meterFactory.Create(KubernetesServiceAccountDefaults.TelemetryName);
        Reviews = meter.CreateCounter<long>("kubesa.tokenreview.requests", "{review}", "TokenReview verdicts, by result, scheme and cache.");
    }

    public Counter<long> Reviews { get; }

    public void Record(string scheme, string result, bool cache)
    {
        var tags = new TagList
        {
            { "result", result },
            { "scheme", scheme },
            { "cache", cache ? "hit" : "miss" },
        };
        Reviews.Add(1, tags);
    }
}
