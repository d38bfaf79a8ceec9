// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.ClusterView;

/// <summary>
/// A GET of one Pod or ServiceAccount the view does not know (its ADDED event still on the way, or the view still
/// listing): single flight per object, the answer kept <c>LookupCacheDuration</c>, at most <c>MaxLookupsPerSecond</c>.
/// Only an answer refuses: a 404, or another uid. A failed or skipped lookup decides nothing.
/// </summary>
internal sealed class ObjectLookup(MetadataClient client, StringPool pool, KubernetesClusterViewOptions options, TimeSpan timeout, TimeProvider time, ILogger logger, string cluster)
{
    private const int MaxAnswers = 10_000;

    private readonly ConcurrentDictionary<(string Resource, string Namespace, string Name), Answer> _answers = new();
    private readonly ConcurrentDictionary<(string Resource, string Namespace, string Name), Task<Answer?>> _inFlight = new();
    private readonly Lock _rateGate = new();
    private readonly int _perSecond = options.MaxLookupsPerSecond;
    private readonly TimeSpan _cacheDuration = options.LookupCacheDuration;
    private double _tokens = options.MaxLookupsPerSecond;
    private long _refilledAt = time.GetTimestamp();
    private long _lookups;

    /// <summary>GETs sent.</summary>
    public long Lookups => Interlocked.Read(ref _lookups);

    /// <summary>The answer of a recent GET: <see langword="true"/> with the object, or with <see langword="null"/> for a 404.</summary>
    public bool TryGetRecent(string resource, string @namespace, string name, out ViewObject? found)
    {
        if (_answers.TryGetValue((resource, @namespace, name), out var answer) && time.GetUtcNow().UtcTicks < answer.ExpiresAtTicks)
        {
            found = answer.Found;
            return true;
        }

        found = null;
        return false;
    }

    /// <summary>GETs the object (joining a GET of it in flight); <see langword="null"/> when it could not be asked.</summary>
    public async ValueTask<Answer?> LookupAsync(string resource, string @namespace, string name, CancellationToken cancellationToken)
    {
        var key = (resource, @namespace, name);
        if (_inFlight.TryGetValue(key, out var running))
        {
            return await running.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        if (!TakeToken())
        {
            return null;
        }

        var flight = new TaskCompletionSource<Answer?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var current = _inFlight.GetOrAdd(key, flight.Task);
        if (current == flight.Task)
        {
            // Not tied to one request's cancellation: the timeout bounds it, and other requests may join it.
            _ = RunAsync(flight, key);
        }

        return await current.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task RunAsync(TaskCompletionSource<Answer?> flight, (string Resource, string Namespace, string Name) key)
    {
        try
        {
            Interlocked.Increment(ref _lookups);
            var found = await client.GetAsync($"/api/v1/namespaces/{key.Namespace}/{key.Resource}/{key.Name}", timeout, CancellationToken.None).ConfigureAwait(false);
            var value = found?.Metadata is { Name: { Length: > 0 } name, Uid: { Length: > 0 } uid } metadata
                ? new ViewObject(pool.Intern(key.Namespace), name, uid, LabelSet.Create(metadata.Labels, pool), metadata.DeletionTimestamp)
                : null;
            var answer = new Answer(value, (time.GetUtcNow() + _cacheDuration).UtcTicks);
            if (_cacheDuration > TimeSpan.Zero)
            {
                if (_answers.Count >= MaxAnswers)
                {
                    _answers.Clear();
                }

                _answers[key] = answer;
            }

            flight.TrySetResult(answer);
        }
        catch (Exception ex) when (ex is ApiStatusException or HttpRequestException or IOException or JsonException or OperationCanceledException)
        {
            ClusterViewLog.LookupFailed(logger, cluster, key.Resource, key.Namespace, key.Name, ex is OperationCanceledException ? "no answer in time" : ex.Message);
            flight.TrySetResult(null);
        }
        catch (Exception ex)
        {
            flight.TrySetException(ex);
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<(string, string, string), Task<Answer?>>(key, flight.Task));
        }
    }

    /// <summary>A token bucket of <c>MaxLookupsPerSecond</c>, refilled continuously; the lock guards two numbers, never I/O.</summary>
    private bool TakeToken()
    {
        if (_perSecond <= 0)
        {
            return false;
        }

        lock (_rateGate)
        {
            var now = time.GetTimestamp();
            _tokens = Math.Min(_perSecond, _tokens + (time.GetElapsedTime(_refilledAt, now).TotalSeconds * _perSecond));
            _refilledAt = now;
            if (_tokens < 1)
            {
                return false;
            }

            _tokens--;
            return true;
        }
    }

    /// <summary>What the API server answered: the object, or <see langword="null"/> for a 404.</summary>
    internal sealed record Answer(ViewObject? Found, long ExpiresAtTicks);
}
