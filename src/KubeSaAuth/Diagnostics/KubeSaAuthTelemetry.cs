// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using KubeSaAuth.Keys;

namespace KubeSaAuth.Diagnostics;

/// <summary>
/// The <c>KubeSaAuth</c> meter (OpenTelemetry-style names) and activity source. One instance per
/// service provider, created through <see cref="IMeterFactory"/>. docs/observability.md lists every
/// instrument, span and tag.
/// </summary>
internal sealed class KubeSaAuthTelemetry : IDisposable
{
    public static readonly ActivitySource ActivitySource = new(KubernetesServiceAccountDefaults.TelemetryName);

    /// <summary>The span of one token judged by one scheme (a cache hit, a refusal, a success).</summary>
    public const string ValidateTokenSpan = "KubeSaAuth.ValidateToken";

    // Span tags: OpenTelemetry's error.type and k8s.namespace.name where a convention exists, kubesa.* otherwise.
    public const string SchemeTag = "kubesa.scheme";
    public const string ClusterTag = "kubesa.cluster";
    public const string ResultTag = "kubesa.result";
    public const string CacheHitTag = "kubesa.cache.hit";
    public const string ErrorTypeTag = "error.type";
    public const string NamespaceTag = "k8s.namespace.name";
    public const string ServiceAccountTag = "kubesa.service_account";

    /// <summary>
    /// Bucket boundaries of the validation duration, in seconds: a cache hit takes microseconds, a signature check
    /// tens of them, a key fetch or TokenReview milliseconds to seconds. OpenTelemetry's default boundaries
    /// (0, 5, 10, 25, ... 10000) are for milliseconds and would put every sample in the first bucket.
    /// </summary>
    internal static readonly double[] DurationBuckets =
        [0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly ConcurrentDictionary<string, (string Scheme, string Cluster, SigningKeySource Source)> _sources = new(StringComparer.Ordinal);
    private readonly Meter _meter;

    public KubeSaAuthTelemetry(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(KubernetesServiceAccountDefaults.TelemetryName);
        TokensValidated = _meter.CreateCounter<long>("kubesa.tokens.validated", "{token}", "Service-account tokens checked, by result, reason, kind and cache.");
        ValidationDuration = _meter.CreateHistogram(
            "kubesa.tokens.validation.duration",
            "s",
            "Time to authenticate one request's token.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        Forbidden = _meter.CreateCounter<long>("kubesa.authorization.forbidden", "{request}", "Requests answered 403 by an authorization policy, by policy kind and scheme.");
        KeyFetches = _meter.CreateCounter<long>("kubesa.keys.fetches", "{fetch}", "Fetches of discovery and JWKS, by result.");
        _meter.CreateObservableGauge("kubesa.keys.count", ObserveKeyCounts, "{key}", "Signing keys in the current key set.");
        _meter.CreateObservableGauge("kubesa.keys.stale", ObserveStale, "{cluster}", "1 while the last key fetch failed and older keys are served.");
    }

    public Counter<long> TokensValidated { get; }

    public Histogram<double> ValidationDuration { get; }

    public Counter<long> KeyFetches { get; }

    public Counter<long> Forbidden { get; }

    /// <summary>Observes a key source (one per cluster; <paramref name="name"/> is unique: <c>scheme</c> or <c>scheme/cluster</c>).</summary>
    public void Register(string name, string scheme, string cluster, SigningKeySource source) => _sources[name] = (scheme, cluster, source);

    public void Dispose() => _meter.Dispose();

    private IEnumerable<Measurement<int>> ObserveKeyCounts()
    {
        foreach (var (scheme, cluster, source) in _sources.Values)
        {
            yield return new Measurement<int>(source.Current?.Keys.Count ?? 0, new KeyValuePair<string, object?>("scheme", scheme), new KeyValuePair<string, object?>("cluster", cluster));
        }
    }

    private IEnumerable<Measurement<int>> ObserveStale()
    {
        foreach (var (scheme, cluster, source) in _sources.Values)
        {
            yield return new Measurement<int>(source.GetStatus().IsStale ? 1 : 0, new KeyValuePair<string, object?>("scheme", scheme), new KeyValuePair<string, object?>("cluster", cluster));
        }
    }
}
