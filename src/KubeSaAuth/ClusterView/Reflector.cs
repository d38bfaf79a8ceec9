// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.ClusterView;

/// <summary>
/// Keeps one <see cref="ObjectStore"/> in step with one API endpoint (a resource, cluster-wide or in one
/// namespace), as client-go's reflector: a streaming list where the server serves one (a WATCH with
/// <c>sendInitialEvents=true</c>, KEP-3157), else a paged LIST then a WATCH from the list's resourceVersion, with
/// bookmarks. A closed watch resumes from the last resourceVersion seen (bookmarks included) without a new
/// list; only 410 Gone (HTTP status, or an ERROR event whose Status has code 410) lists again. Errors back off
/// with jitter; the store keeps answering meanwhile.
/// </summary>
/// <remarks>
/// A server that refuses streaming lists (422: Kubernetes 1.33 by default, or a server older than 1.27, detected
/// when the initial events never end) is not asked again: this reflector uses paged LISTs from then on.
/// </remarks>
internal sealed class Reflector
{
    internal static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(500);
    internal static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    /// <summary>How long a streaming list may take to end its initial events before the server is taken not to serve them.</summary>
    internal static readonly TimeSpan InitialEventsTimeout = TimeSpan.FromSeconds(60);

    private const string InitialEventsTimedOut = "its initial events did not end within 60 s";

    /// <summary>Expired continue tokens restarted within one LIST before it counts as failed (and backs off).</summary>
    private const int MaxListRestarts = 3;

    private readonly MetadataClient _client;
    private readonly ObjectStore _store;
    private readonly StringPool _pool;
    private readonly KubernetesClusterViewOptions _options;
    private readonly TimeSpan _requestTimeout;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _cluster;
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _lists;
    private int _watches;
    private volatile string? _error;
    private volatile string? _forbidden;
    private volatile bool _watching;
    private volatile bool _streamingRefused;
    private int _streamedLists;
    private long _downSince;

    public Reflector(string resource, string? @namespace, MetadataClient client, ObjectStore store, StringPool pool, KubernetesClusterViewOptions options, TimeSpan requestTimeout, TimeProvider time, ILogger logger, string cluster)
    {
        Resource = resource;
        Namespace = @namespace;
        Path = @namespace is null ? $"/api/v1/{resource}" : $"/api/v1/namespaces/{@namespace}/{resource}";
        _client = client;
        _store = store;
        _pool = pool;
        _options = options;
        _requestTimeout = requestTimeout;
        _time = time;
        _logger = logger;
        _cluster = cluster;
    }

    public string Resource { get; }

    /// <summary>The namespace watched, or <see langword="null"/> for all.</summary>
    public string? Namespace { get; }

    public string Path { get; }

    /// <summary>What it watches, for messages: <c>pods</c>, <c>pods in namespace 'shop'</c>.</summary>
    public string Description => Namespace is null ? Resource : $"{Resource} in namespace '{Namespace}'";

    /// <summary>Completes when the first complete LIST is in the store.</summary>
    public Task Synced => _synced.Task;

    /// <summary>Completes when the first LIST succeeded or failed.</summary>
    public Task FirstAttempt => _firstAttempt.Task;

    public bool IsSynced => _synced.Task.IsCompleted;

    /// <summary>Whether a watch is open now.</summary>
    public bool IsWatching => _watching;

    /// <summary>The last error, cleared by the next success.</summary>
    public string? Error => _error;

    /// <summary>The verb refused by RBAC (<c>list</c>, <c>watch</c>), with the API server's message; cleared by the next success.</summary>
    public string? Forbidden => _forbidden;

    /// <summary>
    /// When the current run of failures (errors or RBAC refusals) began, by the view's clock; <see langword="null"/>
    /// while the last attempt succeeded. Kept across retries, so it says how long the view has been down.
    /// </summary>
    public DateTimeOffset? DownSince => Volatile.Read(ref _downSince) is var ticks and not 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    /// <summary>LISTs made (each relist counts once, however many pages), and streaming lists completed.</summary>
    public int Lists => Volatile.Read(ref _lists);

    /// <summary>Streaming lists completed (their initial events ended; included in <see cref="Lists"/>).</summary>
    public int StreamedLists => Volatile.Read(ref _streamedLists);

    /// <summary>Whether the server refused a streaming list: paged LISTs are used from then on.</summary>
    public bool StreamingRefused => _streamingRefused;

    /// <summary>WATCH requests made.</summary>
    public int Watches => Volatile.Read(ref _watches);

    public string? ResourceVersion { get; private set; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var backoff = InitialBackoff;
        while (!cancellationToken.IsCancellationRequested)
        {
            var verb = "list";
            try
            {
                if (ResourceVersion is null)
                {
                    if (_options.StreamingLists && !_streamingRefused && await StreamAsync(cancellationToken).ConfigureAwait(false))
                    {
                        // Listed, then watched on the same stream until the server closed it: resume from the last resourceVersion.
                        backoff = InitialBackoff;
                        continue;
                    }

                    ResourceVersion = await ListAsync(cancellationToken).ConfigureAwait(false);
                    MarkSynced();
                }

                verb = "watch";
                var endedAtOnce = await WatchAsync(cancellationToken).ConfigureAwait(false);
                _error = null;
                _forbidden = null;
                Volatile.Write(ref _downSince, 0);
                if (!endedAtOnce)
                {
                    // The server closed the watch (timeoutSeconds, a restart): resume at once from the last resourceVersion.
                    backoff = InitialBackoff;
                    continue;
                }

                // A watch that ended at once without an event: do not spin on a server that closes every watch.
                await DelayAsync(backoff, cancellationToken).ConfigureAwait(false);
                backoff = Next(backoff);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (ApiStatusException ex) when (ex.IsExpired)
            {
                // k8s: 410 Gone — the resourceVersion left the watch cache (or the continue token expired). Only a new LIST helps.
                ClusterViewLog.ViewRelisting(_logger, _cluster, Description, ex.Message);
                ResourceVersion = null;
                _watching = false;
            }
            catch (ApiStatusException ex) when (ex.IsForbidden)
            {
                // The API server names the verb it refused ("cannot watch resource ..."): a streaming list is a watch.
                verb = ForbiddenVerb(ex.Message) ?? verb;
                _watching = false;
                _store.SetRefused(Namespace, true);
                _forbidden = $"{verb} {Resource}" + (Namespace is null ? string.Empty : $" in namespace '{Namespace}'");
                _error = ex.Message;
                MarkDown();
                _firstAttempt.TrySetResult();
                ClusterViewLog.ViewForbidden(_logger, _cluster, verb, Resource, Namespace ?? "(all namespaces)", ex.Message);
                await DelayAsync(MaxBackoff, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ApiStatusException or HttpRequestException or IOException or JsonException or OperationCanceledException or InvalidOperationException)
            {
                _watching = false;
                _error = ex is OperationCanceledException ? "no answer in time" : ex.Message;
                MarkDown();
                _firstAttempt.TrySetResult();
                ClusterViewLog.ViewDisconnected(_logger, _cluster, Description, _error, backoff);
                await DelayAsync(backoff, cancellationToken).ConfigureAwait(false);
                backoff = Next(backoff);
            }
        }

        _watching = false;
    }

    /// <summary>
    /// A streaming list: the initial ADDED events fill the store, the bookmark annotated <c>k8s.io/initial-events-end</c>
    /// completes it (objects it did not name are removed) and gives the resourceVersion, and the same stream goes on as
    /// a watch until the server closes it (returns <see langword="true"/>). Returns <see langword="false"/> when the
    /// server refuses it (422) or its initial events do not end within <see cref="InitialEventsTimeout"/> (a server
    /// that ignores <c>sendInitialEvents</c>); it is not asked again.
    /// </summary>
    private async Task<bool> StreamAsync(CancellationToken cancellationToken)
    {
        var timeoutSeconds = WatchTimeoutSeconds();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds) + _requestTimeout, _time);
        using var initial = new CancellationTokenSource(InitialEventsTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token, initial.Token);
        var seen = new HashSet<(string, string)>();
        var listing = true;
        try
        {
            await foreach (var change in _client.WatchAsync(Path, resourceVersion: null, timeoutSeconds, linked.Token).ConfigureAwait(false))
            {
                if (!listing)
                {
                    _watching = true;
                    Apply(change);
                    continue;
                }

                var metadata = change.Object?.Metadata;
                switch (change.Type)
                {
                    case "BOOKMARK" when metadata is { InitialEventsEnd: true, ResourceVersion: { Length: > 0 } resourceVersion }:
                        initial.CancelAfter(Timeout.InfiniteTimeSpan);
                        Interlocked.Increment(ref _lists);
                        Interlocked.Increment(ref _streamedLists);
                        listing = false;
                        ResourceVersion = resourceVersion;
                        var removed = _store.RemoveUnseen(Namespace, seen);
                        ClusterViewLog.ViewListed(_logger, _cluster, Description + " (streamed)", seen.Count, removed, resourceVersion);
                        MarkSynced();
                        _watching = true;
                        break;
                    case "ADDED" or "MODIFIED":
                        if (ToObject(metadata) is { } value)
                        {
                            _store.Upsert(value);
                            seen.Add((value.Namespace, value.Name));
                        }

                        break;
                    case "DELETED":
                        if (metadata?.Name is { Length: > 0 } name)
                        {
                            _store.Delete(NamespaceOf(metadata), name, metadata.Uid);
                            seen.Remove((NamespaceOf(metadata), name));
                        }

                        break;
                    case "BOOKMARK":
                        // Not the end of the initial events: no point to resume from yet (the state is not complete).
                        break;
                    default:
                        Apply(change);  // ERROR throws its Status; an unknown type is an error.
                        break;
                }
            }
        }
        catch (ApiStatusException ex) when (ex.Code == 422)
        {
            _streamingRefused = true;
            ClusterViewLog.StreamingListsRefused(_logger, _cluster, Description, ex.Message);
            return false;
        }
        catch (OperationCanceledException) when (listing && initial.IsCancellationRequested && !deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            _streamingRefused = true;
            ClusterViewLog.StreamingListsRefused(_logger, _cluster, Description, InitialEventsTimedOut);
            return false;
        }
        catch (OperationCanceledException) when (!listing && deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // The deadline: resume as after a close.
        }
        finally
        {
            _watching = false;
        }

        if (listing)
        {
            // Closed before the end of its initial events: an error (retried with back-off), not a refusal.
            throw new IOException("the streaming list ended before its initial events did");
        }

        return true;
    }

    /// <summary>A complete, paged LIST into the store; returns its resourceVersion. An expired continue token starts over.</summary>
    private async Task<string> ListAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _lists);
        var seen = new HashSet<(string, string)>();
        string? continueToken = null;
        string? resourceVersion = null;
        var restarts = 0;
        while (true)
        {
            ListJson page;
            try
            {
                page = await _client.ListAsync(Path, _options.PageSize, continueToken, _requestTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (ApiStatusException ex) when (ex.IsExpired && continueToken is not null && restarts < MaxListRestarts)
            {
                // The continue token expired between pages: list again from the start (a loop, not 'do ... while':
                // there 'continue' would test the emptied token and end the list with no resourceVersion).
                ClusterViewLog.ViewRelisting(_logger, _cluster, Description, ex.Message);
                restarts++;
                seen.Clear();
                continueToken = null;
                resourceVersion = null;
                continue;
            }

            resourceVersion ??= page.Metadata?.ResourceVersion;
            if (page.Items is { } items)
            {
                foreach (var item in items)
                {
                    if (ToObject(item.Metadata) is { } value)
                    {
                        _store.Upsert(value);
                        seen.Add((value.Namespace, value.Name));
                    }
                }
            }

            continueToken = page.Metadata?.Continue;
            if (string.IsNullOrEmpty(continueToken))
            {
                break;
            }
        }

        if (string.IsNullOrEmpty(resourceVersion))
        {
            throw new JsonException("The list answer has no metadata.resourceVersion.");
        }

        var removed = _store.RemoveUnseen(Namespace, seen);
        ClusterViewLog.ViewListed(_logger, _cluster, Description, seen.Count, removed, resourceVersion);
        return resourceVersion;
    }

    /// <summary>One WATCH, until the server closes it. Returns whether it ended within a second without any event.</summary>
    private async Task<bool> WatchAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _watches);

        var timeoutSeconds = WatchTimeoutSeconds();

        // A connection that dies silently never closes: give up a while after the server should have.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds) + _requestTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var progressed = false;
        var opened = _time.GetTimestamp();
        try
        {
            await foreach (var change in _client.WatchAsync(Path, ResourceVersion!, timeoutSeconds, linked.Token).ConfigureAwait(false))
            {
                if (!progressed)
                {
                    // The watch is allowed (again): what the store holds of this scope is kept current.
                    _store.SetRefused(Namespace, false);
                }

                _watching = true;
                progressed = true;
                Apply(change);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // The deadline: resume as after a close.
        }
        finally
        {
            _watching = false;
        }

        return !progressed && _time.GetElapsedTime(opened) < TimeSpan.FromSeconds(1);
    }

    private void Apply(WatchEventJson change)
    {
        var metadata = change.Object?.Metadata;
        switch (change.Type)
        {
            case "ADDED" or "MODIFIED":
                if (ToObject(metadata) is { } value)
                {
                    _store.Upsert(value);
                }

                break;
            case "DELETED":
                if (metadata?.Name is { Length: > 0 } name)
                {
                    _store.Delete(NamespaceOf(metadata), name, metadata.Uid);
                }

                break;
            case "BOOKMARK":
                break;
            case "ERROR":
                var status = change.Object;
                throw new ApiStatusException(status?.Code ?? 500, status?.Reason, status?.Message ?? "the watch sent an ERROR event");
            default:
                throw new JsonException($"A watch event has the type '{change.Type}'.");
        }

        // Every event, bookmarks included, moves the point a closed watch resumes from.
        if (metadata?.ResourceVersion is { Length: > 0 } resourceVersion)
        {
            ResourceVersion = resourceVersion;
        }
    }

    private ViewObject? ToObject(ObjectMetaJson? metadata)
    {
        if (metadata?.Name is not { Length: > 0 } name || metadata.Uid is not { Length: > 0 } uid)
        {
            return null;
        }

        return new ViewObject(NamespaceOf(metadata), name, uid, LabelSet.Create(metadata.Labels, _pool), metadata.DeletionTimestamp);
    }

    private string NamespaceOf(ObjectMetaJson metadata) =>
        string.IsNullOrEmpty(metadata.Namespace) ? Namespace ?? string.Empty : _pool.Intern(metadata.Namespace);

    private async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        // Jitter around the delay (half to one and a half), so that replicas do not retry together.
        var jittered = TimeSpan.FromTicks((long)(delay.Ticks * (0.5 + Random.Shared.NextDouble())));
        try
        {
            await Task.Delay(jittered, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: the loop ends.
        }
    }

    // client-go: timeoutSeconds between the minimum and twice it, so that replicas do not reconnect in step.
    private int WatchTimeoutSeconds() => (int)Math.Max(1, _options.WatchTimeout.TotalSeconds * (1 + Random.Shared.NextDouble()));

    private void MarkSynced()
    {
        _synced.TrySetResult();
        _firstAttempt.TrySetResult();
        _error = null;
        _forbidden = null;
        _store.SetRefused(Namespace, false);
        Volatile.Write(ref _downSince, 0);
    }

    /// <summary>The verb of an API server's RBAC refusal: <c>... cannot watch resource "pods" ...</c>.</summary>
    private static string? ForbiddenVerb(string message)
    {
        const string Marker = " cannot ";
        var start = message.IndexOf(Marker, StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        start += Marker.Length;
        var end = message.IndexOf(' ', start);
        return end > start && message.AsSpan(end).StartsWith(" resource ", StringComparison.Ordinal) ? message[start..end] : null;
    }

    /// <summary>Notes when the failures began (the first of a run only).</summary>
    private void MarkDown() => Interlocked.CompareExchange(ref _downSince, Math.Max(1, _time.GetUtcNow().UtcTicks), 0);

    private static TimeSpan Next(TimeSpan backoff) => backoff * 2 < MaxBackoff ? backoff * 2 : MaxBackoff;
}
