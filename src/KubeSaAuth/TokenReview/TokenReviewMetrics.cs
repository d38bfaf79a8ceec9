// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace KubeSaAuth.TokenReview;

/// <summary>
/// <c>kubesa.tokenreview.requests</c> on the <c>KubeSaAuth</c> meter: TokenReview verdicts by result
/// (<c>authenticated</c>, <c>rejected</c>, <c>error</c>), scheme and cache (<c>hit</c>/<c>miss</c>); and
/// <c>kubesa.tokenreview.shared_cache</c>: reads and writes of the shared verdict cache (<c>TokenReview:SharedCache</c>)
/// by operation (<c>read</c>, <c>write</c>), result (<c>hit</c>, <c>miss</c>, <c>ignored</c>, <c>written</c>,
/// <c>unavailable</c>, <c>skipped</c>) and scheme.
/// </summary>
internal sealed class TokenReviewMetrics
{
    public TokenReviewMetrics(IMeterFactory meterFactory)
    {
        // The factory hands back the same meter for the same name: these instruments join kubesa.tokens.*.
        var meter = meterFactory.Create(KubernetesServiceAccountDefaults.TelemetryName);
        Reviews = meter.CreateCounter<long>("kubesa.tokenreview.requests", "{review}", "TokenReview verdicts, by result, scheme and cache.");
        SharedCache = meter.CreateCounter<long>("kubesa.tokenreview.shared_cache", "{operation}", "Reads and writes of the shared TokenReview cache, by operation, result and scheme.");
    }

    public Counter<long> Reviews { get; }

    public Counter<long> SharedCache { get; }

    public void RecordShared(string scheme, string operation, string result)
    {
        var tags = new TagList
        {
            { "operation", operation },
            { "result", result },
            { "scheme", scheme },
        };
        SharedCache.Add(1, tags);
    }

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
