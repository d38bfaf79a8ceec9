// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using KubeSaAuth.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace KubeSaAuth.Keys;

/// <summary>
/// The issuer's signing keys for one scheme: the only component that talks to the network. The keys come
/// from an <see cref="IKeySetRetriever"/>: discovery and JWKS (the default), a key file (<c>JwksPath</c>,
/// re-read every <c>RefreshInterval</c>), or keys given in code (<c>SigningKeys</c>).
/// </summary>
/// <remarks>
/// IdentityModel's <c>ConfigurationManager</c> is not used for scheduling: measured with 8.23 it lets
/// every request start its own fetch once a refresh is due and the endpoint is down, and falls back to
/// a last-known-good configuration that still trusts removed keys. Here:
/// <list type="bullet">
/// <item>one fetch at a time (single flight), at most one attempt per <c>RefreshInterval</c>, whatever
/// the request rate and whatever fails; before the first success, retries back off from 1 s up to
/// <c>RefreshInterval</c>;</item>
/// <item>a request whose key is in hand never waits; one that needs a fetch waits at most
/// <c>MaxKeyFetchWait</c>;</item>
/// <item>failed fetches keep the current keys (stale while error); a successful fetch replaces them, so a
/// removed key is distrusted at once;</item>
/// <item>a background timer refreshes every <c>AutomaticRefreshInterval</c>, and retries every
/// <c>RefreshInterval</c> while fetches fail.</item>
/// </list>
/// <para>
/// It is an IdentityModel <see cref="IConfigurationManager{T}"/>: <see cref="GetConfigurationAsync"/> answers the
/// keys in hand as an <see cref="OpenIdConnectConfiguration"/> and <see cref="RequestRefresh"/> asks for a fetch,
/// with the schedule above. The validator calls the richer members (<see cref="Current"/>,
/// <see cref="RefreshForUnknownKeyAsync"/>) so that a request whose key is in hand costs no allocation.
/// </para>
/// </remarks>
internal sealed class SigningKeySource : IConfigurationManager<OpenIdConnectConfiguration>, IDisposable
{
    private readonly object _gate = new();
    private readonly string _scheme;
    private readonly string _cluster;
    private readonly string _schemeName;
    private readonly IKeySetRetriever _retriever;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly KubeSaAuthTelemetry? _telemetry;
    private readonly TimeSpan _refreshInterval;
    private readonly TimeSpan _automaticRefreshInterval;
    private readonly TimeSpan _maxWait;
    private readonly TimeSpan _fetchTimeout;
    private readonly string? _configuredIssuer;
    private readonly CancellationTokenSource _shutdown = new();

    private volatile KeySet? _current;
    private volatile PublishedConfiguration? _published;
    private Task? _inflight;
    private ITimer? _timer;
    private DateTimeOffset _lastAttempt = DateTimeOffset.MinValue;
    private DateTimeOffset? _lastSuccess;
    private DateTimeOffset? _lastFailure;
    private string? _lastError;
    private int _consecutiveFailures;
    private long _generation;
    private bool _disposed;

    public SigningKeySource(
        string scheme,
        KeySetRetriever retriever,
        Func<HttpClient> clientFactory,
        KubernetesServiceAccountOptions options,
        TimeProvider timeProvider,
        ILogger logger,
        KubeSaAuthTelemetry? telemetry)
        : this(scheme, new RemoteKeySetRetriever(retriever, clientFactory), options, timeProvider, logger, telemetry)
    {
    }

    public SigningKeySource(
        string scheme,
        IKeySetRetriever retriever,
        KubernetesServiceAccountOptions options,
        TimeProvider timeProvider,
        ILogger logger,
        KubeSaAuthTelemetry? telemetry)
    {
        _scheme = scheme;
        _cluster = string.IsNullOrWhiteSpace(options.ClusterName) ? scheme : options.ClusterName;

        // The source of a cluster of Clusters is named 'scheme/cluster'; metrics tag the scheme and the cluster apart.
        _schemeName = scheme.Length > _cluster.Length + 1 && scheme.EndsWith(_cluster, StringComparison.OrdinalIgnoreCase) && scheme[^(_cluster.Length + 1)] == '/'
            ? scheme[..^(_cluster.Length + 1)]
            : scheme;
        _retriever = retriever;
        _time = timeProvider;
        _logger = logger;
        _telemetry = telemetry;
        _refreshInterval = options.RefreshInterval;

        // A key file is read again every RefreshInterval (a local read, and a removed key must be
        // distrusted soon); keys given in code never change.
        _automaticRefreshInterval = retriever.Kind == KeySourceKind.File ? options.RefreshInterval : options.AutomaticRefreshInterval;
        _maxWait = options.MaxKeyFetchWait;
        _fetchTimeout = options.BackchannelTimeout;
        _configuredIssuer = string.IsNullOrWhiteSpace(options.Issuer) ? null : options.Issuer;
        telemetry?.Register(scheme, _schemeName, _cluster, this);
        options.KeyRetrySignal?.Subscribe(this);
    }

    /// <summary>The current key set, or <see langword="null"/> before the first successful fetch.</summary>
    public KeySet? Current => _current;

    /// <summary>Raised after a successful fetch changed the key set; the argument says whether a key was removed.</summary>
    public event Action<KeySet, bool>? KeySetChanged;

    /// <summary>
    /// The current keys. Returns at once when there are keys; otherwise starts (or joins) a fetch, if the
    /// back-off allows one, and waits at most <c>MaxKeyFetchWait</c> for it.
    /// </summary>
    public ValueTask<KeySet?> GetKeySetAsync(CancellationToken cancellationToken)
    {
        var current = _current;
        if (current is not null)
        {
            return new ValueTask<KeySet?>(current);
        }

        // No fetch to join: read the keys again, as one may have completed since they were read above.
        var fetch = TryStartFetch();
        return fetch is null ? new ValueTask<KeySet?>(_current) : WaitAsync(fetch, cancellationToken);
    }

    /// <summary>
    /// Called when a token names a kid that <paramref name="seen"/> lacks: returns a newer set if there is
    /// one, else starts (or joins) one fetch if none was attempted within <c>RefreshInterval</c> and waits
    /// at most <c>MaxKeyFetchWait</c>; otherwise returns the current set without fetching.
    /// </summary>
    public ValueTask<KeySet?> RefreshForUnknownKeyAsync(KeySet? seen, string keyId, CancellationToken cancellationToken)
    {
        var current = _current;
        if (current is not null && !ReferenceEquals(current, seen))
        {
            return new ValueTask<KeySet?>(current);
        }

        var fetch = TryStartFetch();
        if (fetch is null)
        {
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                var shortKeyId = Tokens.KubernetesTokenValidator.Shorten(keyId);
                Log.UnknownKeyIdThrottled(_logger, _scheme, shortKeyId);
            }
            return new ValueTask<KeySet?>(current);
        }

        return WaitAsync(fetch, cancellationToken);
    }

    /// <summary>
    /// <see cref="IConfigurationManager{T}"/>: the keys in hand (waiting, as a request does, at most
    /// <c>MaxKeyFetchWait</c> for a first fetch) as a configuration whose <c>SigningKeys</c> they are; one
    /// instance per key set. Throws <see cref="InvalidOperationException"/> while there are no keys.
    /// </summary>
    public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(CancellationToken cancel)
    {
        var set = await GetKeySetAsync(cancel).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"The signing keys of scheme '{_scheme}' are not available: {_lastError ?? "no fetch has succeeded yet"}.");
        var published = _published;
        if (published is not null && ReferenceEquals(published.Keys, set))
        {
            return published.Configuration;
        }

        var configuration = new OpenIdConnectConfiguration { Issuer = set.DiscoveredIssuer ?? _configuredIssuer };
        foreach (var key in set.Keys)
        {
            configuration.SigningKeys.Add(key.Key);
        }

        _published = new PublishedConfiguration(set, configuration);
        return configuration;
    }

    /// <summary><see cref="IConfigurationManager{T}"/>: starts a fetch, unless one ran within <c>RefreshInterval</c> (then nothing).</summary>
    public void RequestRefresh() => TryStartFetch();

    /// <summary>Fetches now unless a fetch is running (then joins it); used by warm-up. Waits for the outcome.</summary>
    public async Task<bool> FetchNowAsync(CancellationToken cancellationToken)
    {
        Task fetch;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            fetch = _inflight ?? StartFetchLocked(_time.GetUtcNow());
        }

        await fetch.WaitAsync(cancellationToken).ConfigureAwait(false);
        return _current is not null && _consecutiveFailures == 0;
    }

    /// <summary>The fetch in flight, or a completed task when none runs: lets callers (and tests) wait for its outcome.</summary>
    public Task InflightFetch
    {
        get
        {
            lock (_gate)
            {
                return _inflight ?? Task.CompletedTask;
            }
        }
    }

    /// <summary>
    /// After failed fetches, starts one now instead of at the end of the back-off (no-op when the last fetch
    /// succeeded or one is running). Only <see cref="KeyRetrySignal"/> calls it: the test kit's issuer, as an
    /// outage it simulated ends.
    /// </summary>
    public void RetryNowAfterFailure()
    {
        lock (_gate)
        {
            if (_disposed || _inflight is not null || _consecutiveFailures == 0)
            {
                return;
            }

            StartFetchLocked(_time.GetUtcNow());
        }
    }

    public KeySourceStatus GetStatus()
    {
        lock (_gate)
        {
            var current = _current;
            return new KeySourceStatus(current?.Keys.Count ?? 0, current is not null, current is not null && _consecutiveFailures > 0, _lastSuccess, _lastFailure, _lastError, _consecutiveFailures, _retriever.Kind, _retriever.Address, current?.WeakKeys);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _timer?.Dispose();
            _timer = null;
        }

        _shutdown.Cancel();
        _shutdown.Dispose();
    }

    private async ValueTask<KeySet?> WaitAsync(Task fetch, CancellationToken cancellationToken)
    {
        try
        {
            await fetch.WaitAsync(_maxWait, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The fetch goes on; this request is answered with the keys in hand (or none).
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away; nothing to wait for.
        }

        return _current;
    }

    /// <summary>The least time between two attempts: <c>RefreshInterval</c>, or the cold-start back-off before the first success.</summary>
    private TimeSpan MinimumSpacingLocked()
    {
        if (_current is not null || _consecutiveFailures == 0)
        {
            return _current is null ? TimeSpan.Zero : _refreshInterval;
        }

        var backoff = TimeSpan.FromSeconds(Math.Pow(2, Math.Min(_consecutiveFailures - 1, 16)));
        return backoff < _refreshInterval ? backoff : _refreshInterval;
    }

    private Task? TryStartFetch()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return null;
            }

            if (_inflight is not null)
            {
                return _inflight;
            }

            var now = _time.GetUtcNow();
            return now - _lastAttempt < MinimumSpacingLocked() ? null : StartFetchLocked(now);
        }
    }

    private Task StartFetchLocked(DateTimeOffset now)
    {
        _lastAttempt = now;
        var fetch = Task.Run(FetchAsync);
        _inflight = fetch;
        return fetch;
    }

    private async Task FetchAsync()
    {
        using var activity = KubeSaAuthTelemetry.ActivitySource.StartActivity("KubeSaAuth.FetchKeys", ActivityKind.Client);
        activity?.SetTag("kubesa.scheme", _scheme);
        try
        {
            RetrievedKeys? retrieved;
            using (var timeout = new CancellationTokenSource(_fetchTimeout, _time))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, _shutdown.Token))
            {
                try
                {
                    retrieved = await _retriever.RetrieveAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException ex) when (timeout.IsCancellationRequested)
                {
                    throw new KeyFetchException(_retriever.Address, null, $"no answer within BackchannelTimeout ({_fetchTimeout})", ex);
                }
            }

            if (retrieved is null)
            {
                MarkUnchanged();
            }
            else
            {
                Apply(retrieved);
            }

            _telemetry?.KeyFetches.Add(1, new KeyValuePair<string, object?>("result", "success"), new KeyValuePair<string, object?>("scheme", _schemeName), new KeyValuePair<string, object?>("cluster", _cluster));
            activity?.SetStatus(ActivityStatusCode.Ok);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException && Volatile.Read(ref _disposed))
        {
            // Shutting down: the fetch was cancelled (or its token source disposed); not a failure to report.
        }
        catch (Exception ex)
        {
            RecordFailure(ex);
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
        }
        finally
        {
            lock (_gate)
            {
                _inflight = null;
                ScheduleNextLocked();
            }
        }
    }

    /// <summary>The source says its keys are the ones in hand (a key file read again, unchanged): a success.</summary>
    private void MarkUnchanged()
    {
        lock (_gate)
        {
            if (_current is null)
            {
                return;
            }

            _lastSuccess = _time.GetUtcNow();
            _lastError = null;
            _consecutiveFailures = 0;
        }
    }

    private void Apply(RetrievedKeys retrieved)
    {
        var keys = new List<SigningKey>(retrieved.Keys.Count);
        List<WeakKey>? weakKeys = null;
        foreach (var jwk in retrieved.Keys)
        {
            var key = SigningKey.TryCreate(jwk, out var skipReason, out var weakBits);
            if (key is null)
            {
                if (weakBits > 0)
                {
                    var weak = new WeakKey(string.IsNullOrEmpty(jwk.Kid) ? null : jwk.Kid, weakBits);
                    (weakKeys ??= []).Add(weak);
                    Log.WeakKeyRefused(_logger, _scheme, weak.KeyId ?? "(none)", weakBits, retrieved.JwksUri);
                }
                else
                {
                    Log.KeySkipped(_logger, _scheme, jwk.Kid, skipReason!);
                }

                continue;
            }

            keys.Add(key);
        }

        if (_configuredIssuer is not null && retrieved.DiscoveredIssuer is not null
            && !string.Equals(_configuredIssuer, retrieved.DiscoveredIssuer, StringComparison.Ordinal)
            && !string.Equals(_current?.DiscoveredIssuer, retrieved.DiscoveredIssuer, StringComparison.Ordinal))
        {
            Log.IssuerMismatch(_logger, _scheme, retrieved.DiscoveredIssuer, _configuredIssuer);
        }

        var now = _time.GetUtcNow();
        KeySet next;
        bool removed;
        bool changed;
        lock (_gate)
        {
            var previous = _current;
            removed = previous is not null && previous.LosesKeysTo(keys);
            changed = previous is null || removed || !previous.HasSameKeys(keys) || previous.DiscoveredIssuer != retrieved.DiscoveredIssuer
                || !previous.WeakKeys.SequenceEqual(weakKeys ?? []);
            var epoch = (previous?.TrustEpoch ?? 0) + (removed ? 1 : 0);
            next = changed
                ? new KeySet(keys, retrieved.DiscoveredIssuer, now, ++_generation, epoch, weakKeys)
                : previous!;
            if (removed && _logger.IsEnabled(LogLevel.Warning))
            {
                var kept = keys.Select(k => k.Fingerprint).ToHashSet(StringComparer.Ordinal);
                Log.KeysRemoved(_logger, _scheme, string.Join(", ", previous!.Keys.Where(k => !kept.Contains(k.Fingerprint)).Select(k => k.KeyId ?? "(none)")));
            }

            _current = next;
            _lastSuccess = now;
            _lastError = null;
            _consecutiveFailures = 0;
        }

        if (keys.Count == 0)
        {
            Log.KeysEmpty(_logger, _scheme, retrieved.JwksUri);
        }
        else if (changed && _logger.IsEnabled(LogLevel.Information))
        {
            var keyIds = string.Join(", ", keys.Select(k => k.KeyId ?? "(none)"));
            Log.KeysFetched(_logger, _scheme, keys.Count, retrieved.JwksUri, keyIds);
        }

        if (changed)
        {
            KeySetChanged?.Invoke(next, removed);
        }
    }

    private void RecordFailure(Exception ex)
    {
        var fetchError = ex as KeyFetchException;
        bool hasKeys;
        lock (_gate)
        {
            _lastFailure = _time.GetUtcNow();
            _lastError = ex.Message;
            _consecutiveFailures++;
            hasKeys = _current is not null;
        }

        if (_retriever.Kind == KeySourceKind.File)
        {
            var kept = hasKeys
                ? $"Still validating with the {_current!.Keys.Count} keys read at {_current.FetchedAt:o}; reading it again in {_refreshInterval}."
                : "No keys: tokens are refused until the file can be read.";
            Log.KeyFileUnusable(_logger, _scheme, _retriever.Address, ex.Message, kept);
        }
        else
        {
            var consequence = hasKeys
                ? $"Still validating with the {_current!.Keys.Count} keys fetched at {_current.FetchedAt:o}; retrying in {_refreshInterval}."
                : "No keys yet: tokens are refused until a fetch succeeds; retrying with back-off.";
            Log.KeyFetchFailed(_logger, _scheme, fetchError?.Address ?? _retriever.Address, fetchError?.StatusCode, ex.Message, consequence);
        }

        _telemetry?.KeyFetches.Add(1, new KeyValuePair<string, object?>("result", "failure"), new KeyValuePair<string, object?>("scheme", _schemeName), new KeyValuePair<string, object?>("cluster", _cluster));
    }

    private void ScheduleNextLocked()
    {
        if (_disposed)
        {
            return;
        }

        // After a success: the periodic refresh. After a failure: retry at the least spacing allowed.
        var due = _consecutiveFailures == 0 ? _automaticRefreshInterval : MinimumSpacingLocked();
        if (due <= TimeSpan.Zero)
        {
            due = TimeSpan.FromSeconds(1);
        }

        if (_timer is null)
        {
            _timer = _time.CreateTimer(static state => ((SigningKeySource)state!).OnTimer(), this, due, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _timer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnTimer()
    {
        lock (_gate)
        {
            if (_disposed || _inflight is not null)
            {
                return;
            }

            var now = _time.GetUtcNow();
            var wait = _lastAttempt + MinimumSpacingLocked() - now;
            if (wait > TimeSpan.Zero)
            {
                _timer?.Change(wait, Timeout.InfiniteTimeSpan);
                return;
            }

            StartFetchLocked(now);
        }
    }
}

/// <summary>Discovery and JWKS over the backchannel: <see cref="KeySetRetriever"/> with its client.</summary>
internal sealed class RemoteKeySetRetriever(KeySetRetriever retriever, Func<HttpClient> clientFactory) : IKeySetRetriever
{
    public string Address => retriever.JwksUri ?? retriever.MetadataAddress ?? "?";

    public KeySourceKind Kind => KeySourceKind.Remote;

    public async Task<RetrievedKeys?> RetrieveAsync(CancellationToken cancellationToken) =>
        await retriever.RetrieveAsync(clientFactory(), cancellationToken).ConfigureAwait(false);
}

/// <summary>The configuration <see cref="SigningKeySource.GetConfigurationAsync"/> answers for one key set.</summary>
internal sealed record PublishedConfiguration(KeySet Keys, OpenIdConnectConfiguration Configuration);
