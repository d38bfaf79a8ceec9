// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using KubeSaAuth.Keys;

namespace KubeSaAuth.Diagnostics;

/// <summary>
/// The <c>KubeSaAuth</c> meter (OpenTelemetry-style names) and activity source. One instance per
/// service provider, created through <see cref="IMeterFactory"/>.
/// </summary>
internal sealed class KubeSaAuthTelemetry : IDisposable
{
    public static readonly ActivitySource ActivitySource = new(KubernetesServiceAccountDefaults.TelemetryName);

    private readonly ConcurrentDictionary<string, SigningKeySource> _sources = new(StringComparer.Ordinal);
    private readonly Meter _meter;

    public KubeSaAuthTelemetry(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(KubernetesServiceAccountDefaults.TelemetryName);
        TokensValidated = _meter.CreateCounter<long>("kubesa.tokens.validated", "{token}", "Service-account tokens checked, by result, reason, kind and cache.");
        ValidationDuration = _meter.CreateHistogram<double>("kubesa.tokens.validation.duration", "s", "Time to authenticate one request's token.");
        KeyFetches = _meter.CreateCounter<long>("kubesa.keys.fetches", "{fetch}", "Fetches of discovery and JWKS, by result.");
        _meter.CreateObservableGauge("kubesa.keys.count", ObserveKeyCounts, "{key}", "Signing keys in the current key set.");
        _meter.CreateObservableGauge("kubesa.keys.stale", ObserveStale, "{scheme}", "1 while the last key fetch failed and older keys are served.");
    }

    public Counter<long> TokensValidated { get; }

    public Histogram<double> ValidationDuration { get; }

    public Counter<long> KeyFetches { get; }

    public void Register(string scheme, SigningKeySource source) => _sources[scheme] = source;

    public void Dispose() => _meter.Dispose();

    private IEnumerable<Measurement<int>> ObserveKeyCounts()
    {
        foreach (var (scheme, source) in _sources)
        {
            yield return new Measurement<int>(source.Current?.Keys.Count ?? 0, new KeyValuePair<string, object?>("scheme", scheme));
        }
    }

    private IEnumerable<Measurement<int>> ObserveStale()
    {
        foreach (var (scheme, source) in _sources)
        {
            yield return new Measurement<int>(source.GetStatus().IsStale ? 1 : 0, new KeyValuePair<string, object?>("scheme", scheme));
        }
    }
}
