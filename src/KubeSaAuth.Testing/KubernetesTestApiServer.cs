// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.Testing;

/// <summary>
/// A stand-in for the API server's list and watch of Namespaces, Pods and ServiceAccounts, with real semantics, to
/// test label policies and revocation without a cluster: paged LIST (<c>limit</c>, <c>continue</c>, one
/// resourceVersion per list), WATCH from a resourceVersion with bookmarks, watches the server closes, 410 Gone
/// (as an HTTP status or as an <c>ERROR</c> event), <c>PartialObjectMetadata</c> answers, GET of one object, 403 and
/// 404 <c>Status</c> objects, outages, and request counters. Served by Kestrel on 127.0.0.1 with a free port.
/// </summary>
/// <remarks>
/// Change objects from the test (<see cref="AddPod"/>, <see cref="SetLabels"/>, <see cref="Delete"/>,
/// <see cref="Recreate"/>); open watches see the change at once. Point a scheme at it with <see cref="Configure"/>.
/// </remarks>
public sealed class KubernetesTestApiServer : IAsyncDisposable
{
    private const string StatusKind = "Status";

    private readonly Lock _gate = new();
    private readonly Dictionary<(KubernetesTestResource Resource, string Namespace, string Name), KubernetesTestObject> _objects = [];
    private readonly List<Change> _changes = [];
    private readonly List<Watcher> _watchers = [];
    private readonly Dictionary<string, KubernetesTestObject[]> _snapshots = new(StringComparer.Ordinal);
    private readonly HashSet<(string Verb, KubernetesTestResource Resource)> _forbidden = [];
    private readonly ConcurrentDictionary<(string Verb, KubernetesTestResource Resource), int> _requests = new();
    private readonly ConcurrentDictionary<string, byte> _acceptHeaders = new(StringComparer.Ordinal);
    private long _resourceVersion = 1000;
    private long _deliveredVersion = 1000;
    private long _compactedVersion;
    private KubernetesTestExpiry _expiry;
    private bool _paused;
    private bool _expireNextContinue;
    private int _outage;
    private int _streamingListRequests;
    private int _snapshotId;
    private WebApplication? _server;

    private KubernetesTestApiServer()
    {
    }

    /// <summary>The base address (<c>http://127.0.0.1:port/</c>).</summary>
    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1/");

    /// <summary>How often open watches get a <c>BOOKMARK</c> (when they asked for them); default 1 second.</summary>
    public TimeSpan BookmarkInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The resourceVersion of the last change.</summary>
    public string ResourceVersion
    {
        get
        {
            lock (_gate)
            {
                return _resourceVersion.ToString(CultureInfo.InvariantCulture);
            }
        }
    }

    /// <summary>
    /// Whether streaming lists are served: a watch with <c>sendInitialEvents=true</c> (and <c>resourceVersionMatch=NotOlderThan</c>,
    /// <c>allowWatchBookmarks=true</c>) gets the current objects as ADDED events, then a bookmark annotated
    /// <c>k8s.io/initial-events-end: "true"</c>, then the changes. Default <see langword="false"/>: such a watch gets
    /// 422 Invalid, as from Kubernetes 1.33, whose WatchList feature gate is off by default.
    /// </summary>
    public bool StreamingLists { get; set; }

    /// <summary>The number of watches that asked for a streaming list (<c>sendInitialEvents=true</c>), refused ones included; they also count as <c>watch</c>.</summary>
    public int StreamingListRequests => Volatile.Read(ref _streamingListRequests);

    /// <summary>The number of requests served, of every kind (refused ones included).</summary>
    public int RequestCount => _requests.Values.Sum();

    /// <summary>The distinct <c>Accept</c> headers the server was sent.</summary>
    public IReadOnlyCollection<string> AcceptHeaders => [.. _acceptHeaders.Keys];

    /// <summary>The number of watches open now.</summary>
    public int OpenWatches
    {
        get
        {
            lock (_gate)
            {
                return _watchers.Count;
            }
        }
    }

    /// <summary>Starts serving on 127.0.0.1 with a free port.</summary>
    /// <returns>The running server.</returns>
    public static async Task<KubernetesTestApiServer> StartAsync()
    {
        var server = new KubernetesTestApiServer();
        await server.StartServerAsync().ConfigureAwait(false);
        return server;
    }

    /// <summary>
    /// Points <paramref name="options"/>' cluster view at this server: <c>ClusterView:Enabled</c>, <c>ClusterView:ApiServer</c>,
    /// and plain HTTP allowed (<c>RequireHttpsMetadata</c> off).
    /// </summary>
    /// <param name="options">The handler options.</param>
    public void Configure(KubernetesServiceAccountOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ClusterView.Enabled = true;
        options.ClusterView.ApiServer = BaseAddress.ToString();
        options.RequireHttpsMetadata = false;
    }

    /// <summary>How many requests of <paramref name="verb"/> (<c>list</c>, <c>watch</c>, <c>get</c>) on <paramref name="resource"/> were served.</summary>
    /// <param name="verb">The verb.</param>
    /// <param name="resource">The resource.</param>
    /// <returns>The count.</returns>
    public int GetRequestCount(string verb, KubernetesTestResource resource) => _requests.TryGetValue((verb, resource), out var count) ? count : 0;

    /// <summary>Adds a Namespace.</summary>
    /// <param name="name">The name.</param>
    /// <param name="labels">The labels.</param>
    /// <returns>The object.</returns>
    public KubernetesTestObject AddNamespace(string name, IReadOnlyDictionary<string, string>? labels = null) =>
        Add(KubernetesTestResource.Namespaces, string.Empty, name, labels);

    /// <summary>Adds a Pod.</summary>
    /// <param name="namespace">The namespace.</param>
    /// <param name="name">The name.</param>
    /// <param name="labels">The labels.</param>
    /// <param name="uid">The uid; default a new one.</param>
    /// <returns>The object.</returns>
    public KubernetesTestObject AddPod(string @namespace, string name, IReadOnlyDictionary<string, string>? labels = null, string? uid = null) =>
        Add(KubernetesTestResource.Pods, @namespace, name, labels, uid);

    /// <summary>Adds a ServiceAccount.</summary>
    /// <param name="namespace">The namespace.</param>
    /// <param name="name">The name.</param>
    /// <param name="labels">The labels.</param>
    /// <param name="uid">The uid; default a new one.</param>
    /// <returns>The object.</returns>
    public KubernetesTestObject AddServiceAccount(string @namespace, string name, IReadOnlyDictionary<string, string>? labels = null, string? uid = null) =>
        Add(KubernetesTestResource.ServiceAccounts, @namespace, name, labels, uid);

    /// <summary>Adds an object (an <c>ADDED</c> event), or replaces one of the same name (<c>MODIFIED</c>).</summary>
    /// <param name="resource">The resource.</param>
    /// <param name="namespace">The namespace; ignored for Namespaces.</param>
    /// <param name="name">The name.</param>
    /// <param name="labels">The labels.</param>
    /// <param name="uid">The uid; default a new one.</param>
    /// <returns>The object.</returns>
    public KubernetesTestObject Add(KubernetesTestResource resource, string @namespace, string name, IReadOnlyDictionary<string, string>? labels = null, string? uid = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var ns = resource == KubernetesTestResource.Namespaces ? string.Empty : @namespace ?? throw new ArgumentNullException(nameof(@namespace));
        lock (_gate)
        {
            var key = (resource, ns, name);
            var existed = _objects.ContainsKey(key);
            var value = new KubernetesTestObject(resource, ns, name, uid ?? Guid.NewGuid().ToString(), Copy(labels), NextVersion());
            _objects[key] = value;
            Record(existed ? "MODIFIED" : "ADDED", value);
            return value;
        }
    }

    /// <summary>Replaces an object's labels (a <c>MODIFIED</c> event).</summary>
    /// <param name="resource">The resource.</param>
    /// <param name="namespace">The namespace; ignored for Namespaces.</param>
    /// <param name="name">The name.</param>
    /// <param name="labels">The new labels.</param>
    /// <returns>The object.</returns>
    public KubernetesTestObject SetLabels(KubernetesTestResource resource, string @namespace, string name, IReadOnlyDictionary<string, string> labels)
    {
        lock (_gate)
        {
            var key = Key(resource, @namespace, name);
            var current = _objects.TryGetValue(key, out var found) ? found : throw new InvalidOperationException($"No {resource} '{@namespace}/{name}'.");
            var value = current with { Labels = Copy(labels), ResourceVersion = NextVersion() };
            _objects[key] = value;
            Record("MODIFIED", value);
            return value;
        }
    }

    /// <summary>Deletes an object (a <c>DELETED</c> event).</summary>
    /// <param name="resource">The resource.</param>
    /// <param name="namespace">The namespace; ignored for Namespaces.</param>
    /// <param name="name">The name.</param>
    /// <returns>Whether it existed.</returns>
    public bool Delete(KubernetesTestResource resource, string @namespace, string name)
    {
        lock (_gate)
        {
            var key = Key(resource, @namespace, name);
            if (!_objects.Remove(key, out var current))
            {
                return false;
            }

            Record("DELETED", current with { ResourceVersion = NextVersion() });
            return true;
        }
    }

    /// <summary>Deletes an object and creates it again under the same name with a new uid, as a Pod of a StatefulSet is.</summary>
    /// <param name="resource">The resource.</param>
    /// <param name="namespace">The namespace.</param>
    /// <param name="name">The name.</param>
    /// <returns>The new object.</returns>
    public KubernetesTestObject Recreate(KubernetesTestResource resource, string @namespace, string name)
    {
        lock (_gate)
        {
            var labels = _objects.TryGetValue(Key(resource, @namespace, name), out var current) ? current.Labels : null;
            Delete(resource, @namespace, name);
            return Add(resource, @namespace, name, labels);
        }
    }

    /// <summary>The object, or <see langword="null"/>.</summary>
    /// <param name="resource">The resource.</param>
    /// <param name="namespace">The namespace; ignored for Namespaces.</param>
    /// <param name="name">The name.</param>
    /// <returns>The object.</returns>
    public KubernetesTestObject? Get(KubernetesTestResource resource, string @namespace, string name)
    {
        lock (_gate)
        {
            return _objects.GetValueOrDefault(Key(resource, @namespace, name));
        }
    }

    /// <summary>
    /// Holds watch events back (objects still change, LIST and GET show it) until set back to <see langword="false"/>:
    /// a watch that lags, as when an ADDED event is still on its way.
    /// </summary>
    public bool PauseWatchEvents
    {
        get
        {
            lock (_gate)
            {
                return _paused;
            }
        }

        set
        {
            lock (_gate)
            {
                _paused = value;
                if (!value)
                {
                    Deliver();
                }
            }
        }
    }

    /// <summary>Sends a <c>BOOKMARK</c> with the current resourceVersion to every open watch that asked for bookmarks.</summary>
    public void SendBookmarks()
    {
        lock (_gate)
        {
            foreach (var watcher in _watchers)
            {
                if (watcher.Bookmarks)
                {
                    watcher.Lines.Writer.TryWrite(BookmarkLine(_deliveredVersion));
                }
            }
        }
    }

    /// <summary>Closes every open watch, as the server does at <c>timeoutSeconds</c> or on a restart; clients resume from the last resourceVersion they saw.</summary>
    public void CloseWatches()
    {
        lock (_gate)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Lines.Writer.TryComplete();
            }
        }
    }

    /// <summary>
    /// Compacts history: every resourceVersion before now is too old. Open watches end (with an <c>ERROR</c> event for
    /// <see cref="KubernetesTestExpiry.ErrorEvent"/>), and a watch from an older resourceVersion is refused with 410,
    /// as <paramref name="form"/> says; clients must LIST again.
    /// </summary>
    /// <param name="form">How the 410 is told.</param>
    public void ExpireResourceVersions(KubernetesTestExpiry form = KubernetesTestExpiry.HttpStatus)
    {
        lock (_gate)
        {
            _expiry = form;
            _resourceVersion++;
            _compactedVersion = _resourceVersion;
            _deliveredVersion = _paused ? _deliveredVersion : _resourceVersion;
            _changes.RemoveAll(c => c.Version < _compactedVersion);
            foreach (var watcher in _watchers)
            {
                if (form == KubernetesTestExpiry.ErrorEvent)
                {
                    watcher.Lines.Writer.TryWrite(ExpiredEventLine());
                }

                watcher.Lines.Writer.TryComplete();
            }
        }
    }

    /// <summary>The next LIST continuation is refused with 410 <c>Expired</c>, as when the continue token outlived the etcd compaction.</summary>
    public void ExpireNextContinue()
    {
        lock (_gate)
        {
            _expireNextContinue = true;
        }
    }

    /// <summary>Refuses <paramref name="verb"/> (<c>list</c>, <c>watch</c>, <c>get</c>) on <paramref name="resource"/> with 403, as RBAC does.</summary>
    /// <param name="verb">The verb.</param>
    /// <param name="resource">The resource.</param>
    public void Forbid(string verb, KubernetesTestResource resource)
    {
        lock (_gate)
        {
            _forbidden.Add((verb, resource));
        }
    }

    /// <summary>Stops refusing <paramref name="verb"/> on <paramref name="resource"/>.</summary>
    /// <param name="verb">The verb.</param>
    /// <param name="resource">The resource.</param>
    public void Allow(string verb, KubernetesTestResource resource)
    {
        lock (_gate)
        {
            _forbidden.Remove((verb, resource));
        }
    }

    /// <summary>
    /// Makes the server unreachable until the handle is disposed: open watches are cut and every request is answered
    /// 503. <c>using (server.SimulateOutage()) { ... }</c>.
    /// </summary>
    /// <returns>A handle that ends the outage when disposed.</returns>
    public IDisposable SimulateOutage()
    {
        Interlocked.Increment(ref _outage);
        lock (_gate)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Cut = true;
                watcher.Lines.Writer.TryComplete();
            }
        }

        return new Outage(this);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        CloseWatches();
        if (_server is not null)
        {
            await _server.StopAsync().ConfigureAwait(false);
            await _server.DisposeAsync().ConfigureAwait(false);
            _server = null;
        }
    }

    private async Task StartServerAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Run(ServeAsync);
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.TrimEnd('/') + "/");
        _server = app;
    }

    private async Task ServeAsync(HttpContext context)
    {
        var request = context.Request;
        var path = (request.Path.Value ?? "/").Trim('/').Split('/');
        if (path.Length < 3 || path[0] != "api" || path[1] != "v1")
        {
            await WriteStatusAsync(context, 404, "NotFound", "the server could not find the requested resource").ConfigureAwait(false);
            return;
        }

        // api/v1/{resource} | api/v1/namespaces/{ns} | api/v1/namespaces/{ns}/{resource}[/{name}]
        KubernetesTestResource resource;
        string? ns = null;
        string? name = null;
        if (path.Length == 3)
        {
            if (!TryParseResource(path[2], out resource))
            {
                await WriteStatusAsync(context, 404, "NotFound", "the server could not find the requested resource").ConfigureAwait(false);
                return;
            }
        }
        else if (path[2] == "namespaces" && path.Length == 4)
        {
            resource = KubernetesTestResource.Namespaces;
            name = path[3];
        }
        else if (path[2] == "namespaces" && path.Length is 5 or 6 && TryParseResource(path[4], out resource) && resource != KubernetesTestResource.Namespaces)
        {
            ns = path[3];
            name = path.Length == 6 ? path[5] : null;
        }
        else
        {
            await WriteStatusAsync(context, 404, "NotFound", "the server could not find the requested resource").ConfigureAwait(false);
            return;
        }

        var watch = request.Query["watch"] is { Count: > 0 } w && (w[0] == "1" || w[0] == "true");
        var verb = name is not null ? "get" : watch ? "watch" : "list";
        _requests.AddOrUpdate((verb, resource), 1, static (_, n) => n + 1);
        var accept = request.Headers.Accept.ToString();
        _acceptHeaders.TryAdd(accept, 0);

        if (Volatile.Read(ref _outage) > 0)
        {
            await WriteStatusAsync(context, 503, "ServiceUnavailable", "the server is currently unable to handle the request").ConfigureAwait(false);
            return;
        }

        // A streaming list returns what a LIST does: refused unless both verbs are granted.
        var streaming = watch && request.Query["sendInitialEvents"] == "true";
        if (streaming)
        {
            Interlocked.Increment(ref _streamingListRequests);
        }

        bool forbidden;
        lock (_gate)
        {
            forbidden = _forbidden.Contains((verb, resource));
            if (!forbidden && streaming && _forbidden.Contains(("list", resource)))
            {
                forbidden = true;
                verb = "list";
            }
        }

        var resourceName = ResourceName(resource);
        if (forbidden)
        {
            var scope = ns is null ? "at the cluster scope" : $"in the namespace \"{ns}\"";
            await WriteStatusAsync(context, 403, "Forbidden", $"{resourceName} is forbidden: User \"system:serviceaccount:default:kubesa\" cannot {verb} resource \"{resourceName}\" in API group \"\" {scope}").ConfigureAwait(false);
            return;
        }

        // This stand-in serves metadata only: a client that does not ask for it would get less than it expects.
        var expected = name is null && !watch ? "as=PartialObjectMetadataList" : "as=PartialObjectMetadata";
        if (!accept.Contains(expected, StringComparison.Ordinal))
        {
            await WriteStatusAsync(context, 406, "NotAcceptable", $"this stand-in serves metadata only: send Accept: application/json;{expected};g=meta.k8s.io;v=v1").ConfigureAwait(false);
            return;
        }

        if (name is not null)
        {
            await ServeGetAsync(context, resource, ns ?? string.Empty, name).ConfigureAwait(false);
        }
        else if (watch)
        {
            await ServeWatchAsync(context, resource, ns, streaming).ConfigureAwait(false);
        }
        else
        {
            await ServeListAsync(context, resource, ns).ConfigureAwait(false);
        }
    }

    private async Task ServeGetAsync(HttpContext context, KubernetesTestResource resource, string ns, string name)
    {
        var value = Get(resource, ns, name);
        if (value is null)
        {
            await WriteStatusAsync(context, 404, "NotFound", $"{ResourceName(resource)} \"{name}\" not found").ConfigureAwait(false);
            return;
        }

        await WriteJsonAsync(context, 200, ObjectJson(value)).ConfigureAwait(false);
    }

    private async Task ServeListAsync(HttpContext context, KubernetesTestResource resource, string? ns)
    {
        var query = context.Request.Query;
        var limit = int.TryParse(query["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out var l) && l > 0 ? l : int.MaxValue;
        var continueToken = query["continue"].ToString();
        KubernetesTestObject[] snapshot;
        int offset;
        string id;
        long version;
        lock (_gate)
        {
            if (continueToken.Length > 0)
            {
                var parts = continueToken.Split(':');
                if (_expireNextContinue || parts.Length != 3 || !_snapshots.TryGetValue(parts[0], out snapshot!))
                {
                    // Expired (or never issued): the client must start a new list.
                    _expireNextContinue = false;
                    _snapshots.Clear();
                    snapshot = [];
                    id = string.Empty;
                    version = 0;
                    offset = -1;
                }
                else
                {
                    id = parts[0];
                    version = long.Parse(parts[1], CultureInfo.InvariantCulture);
                    offset = int.Parse(parts[2], CultureInfo.InvariantCulture);
                }
            }
            else
            {
                // One snapshot per list: every page has the resourceVersion of the first.
                snapshot = CurrentState(resource, ns);
                id = (++_snapshotId).ToString(CultureInfo.InvariantCulture);
                version = _resourceVersion;
                offset = 0;
                _snapshots[id] = snapshot;
            }
        }

        if (offset < 0)
        {
            await WriteStatusAsync(context, 410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.").ConfigureAwait(false);
            return;
        }

        var page = snapshot.Skip(offset).Take(limit).ToArray();
        var next = offset + page.Length;
        var more = next < snapshot.Length;
        if (!more)
        {
            lock (_gate)
            {
                _snapshots.Remove(id);
            }
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("kind", "PartialObjectMetadataList");
            writer.WriteString("apiVersion", "meta.k8s.io/v1");
            writer.WriteStartObject("metadata");
            writer.WriteString("resourceVersion", version.ToString(CultureInfo.InvariantCulture));
            if (more)
            {
                writer.WriteString("continue", $"{id}:{version.ToString(CultureInfo.InvariantCulture)}:{next.ToString(CultureInfo.InvariantCulture)}");
                writer.WriteNumber("remainingItemCount", snapshot.Length - next);
            }

            writer.WriteEndObject();
            writer.WriteStartArray("items");
            foreach (var item in page)
            {
                WriteObject(writer, item);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.Length;
        await context.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted).ConfigureAwait(false);
    }

    private async Task ServeWatchAsync(HttpContext context, KubernetesTestResource resource, string? ns, bool streaming)
    {
        var query = context.Request.Query;
        var bookmarks = query["allowWatchBookmarks"] == "true";
        if (streaming)
        {
            // The API server's own validation (k8s.io/apimachinery/pkg/apis/meta/internalversion/validation).
            var invalid = !StreamingLists ? "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled"
                : query["resourceVersionMatch"] != "NotOlderThan" ? "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
                : !bookmarks ? "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true"
                : null;
            if (invalid is not null)
            {
                await WriteStatusAsync(context, 422, "Invalid", $"ListOptions.meta.k8s.io \"\" is invalid: {invalid}").ConfigureAwait(false);
                return;
            }
        }

        var timeout = int.TryParse(query["timeoutSeconds"], NumberStyles.None, CultureInfo.InvariantCulture, out var t) && t > 0 ? TimeSpan.FromSeconds(t) : TimeSpan.FromMinutes(30);
        if (!long.TryParse(query["resourceVersion"], NumberStyles.None, CultureInfo.InvariantCulture, out var from))
        {
            // "" or "0": from now (this stand-in does not send the initial state on a watch; list first).
            lock (_gate)
            {
                from = _deliveredVersion;
            }
        }

        var watcher = new Watcher(resource, ns, bookmarks);
        bool expired;
        KubernetesTestExpiry form;
        lock (_gate)
        {
            if (streaming)
            {
                // A consistent read (no resourceVersion): the state now, as a LIST sees it, then the changes after it.
                from = _resourceVersion;
            }

            expired = from < _compactedVersion;
            form = _expiry;
            if (!expired && streaming)
            {
                foreach (var value in CurrentState(resource, ns))
                {
                    watcher.Lines.Writer.TryWrite(EventLine("ADDED", value));
                }

                watcher.Lines.Writer.TryWrite(BookmarkLine(from, initialEventsEnd: true));
            }

            if (!expired)
            {
                for (var i = FirstAfter(from); i < _changes.Count && _changes[i].Version <= _deliveredVersion; i++)
                {
                    if (watcher.Wants(_changes[i].Value))
                    {
                        watcher.Lines.Writer.TryWrite(EventLine(_changes[i].Type, _changes[i].Value));
                    }
                }

                _watchers.Add(watcher);

                // An outage that began after this request passed its check above: SimulateOutage counts first and
                // then cuts the registered watches under this lock, so either it cut this one or this sees the count.
                if (Volatile.Read(ref _outage) > 0)
                {
                    watcher.Cut = true;
                    watcher.Lines.Writer.TryComplete();
                }
            }
        }

        if (expired && form == KubernetesTestExpiry.HttpStatus)
        {
            await WriteStatusAsync(context, 410, "Expired", $"too old resource version: {from.ToString(CultureInfo.InvariantCulture)} ({_compactedVersion.ToString(CultureInfo.InvariantCulture)})").ConfigureAwait(false);
            return;
        }

        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "application/json";
        await response.StartAsync(context.RequestAborted).ConfigureAwait(false);
        if (expired)
        {
            await WriteLineAsync(response, ExpiredEventLine(), context.RequestAborted).ConfigureAwait(false);
            return;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        deadline.CancelAfter(timeout);
        try
        {
            var reader = watcher.Lines.Reader;
            while (true)
            {
                var wait = reader.WaitToReadAsync(deadline.Token).AsTask();
                var tick = bookmarks ? Task.Delay(BookmarkInterval, deadline.Token) : Task.Delay(Timeout.Infinite, deadline.Token);
                if (await Task.WhenAny(wait, tick).ConfigureAwait(false) == tick)
                {
                    if (tick.IsCanceled)
                    {
                        break;
                    }

                    long version;
                    lock (_gate)
                    {
                        version = _deliveredVersion;
                    }

                    await WriteLineAsync(response, BookmarkLine(version), deadline.Token).ConfigureAwait(false);
                    continue;
                }

                if (!await wait.ConfigureAwait(false))
                {
                    break;
                }

                while (reader.TryRead(out var line))
                {
                    await WriteLineAsync(response, line, deadline.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // timeoutSeconds, or the client went away: the watch ends.
        }
        finally
        {
            lock (_gate)
            {
                _watchers.Remove(watcher);
            }
        }

        if (watcher.Cut)
        {
            // An outage: the connection drops instead of ending cleanly.
            context.Abort();
        }
    }

    /// <summary>The objects of <paramref name="resource"/> (in <paramref name="ns"/>, or all), in list order (under the lock).</summary>
    private KubernetesTestObject[] CurrentState(KubernetesTestResource resource, string? ns) =>
        [.. _objects.Values.Where(o => o.Resource == resource && (ns is null || o.Namespace == ns)).OrderBy(o => o.Namespace, StringComparer.Ordinal).ThenBy(o => o.Name, StringComparer.Ordinal)];

    private string NextVersion() => (++_resourceVersion).ToString(CultureInfo.InvariantCulture);

    private void Record(string type, KubernetesTestObject value)
    {
        _changes.Add(new Change(_resourceVersion, type, value));
        if (!_paused)
        {
            Deliver();
        }
    }

    /// <summary>Sends the changes not yet delivered to the open watches (under the lock).</summary>
    private void Deliver()
    {
        for (var i = FirstAfter(_deliveredVersion); i < _changes.Count; i++)
        {
            var change = _changes[i];
            foreach (var watcher in _watchers)
            {
                if (watcher.Wants(change.Value))
                {
                    watcher.Lines.Writer.TryWrite(EventLine(change.Type, change.Value));
                }
            }
        }

        _deliveredVersion = _resourceVersion;
    }

    /// <summary>The index of the first change after <paramref name="version"/> (changes are in version order).</summary>
    private int FirstAfter(long version)
    {
        int low = 0, high = _changes.Count;
        while (low < high)
        {
            var mid = (low + high) / 2;
            if (_changes[mid].Version <= version)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }

        return low;
    }

    private static (KubernetesTestResource, string, string) Key(KubernetesTestResource resource, string ns, string name) =>
        (resource, resource == KubernetesTestResource.Namespaces ? string.Empty : ns, name);

    private static Dictionary<string, string> Copy(IReadOnlyDictionary<string, string>? labels) =>
        labels is null ? new(StringComparer.Ordinal) : new(labels, StringComparer.Ordinal);

    private static bool TryParseResource(string segment, out KubernetesTestResource resource)
    {
        switch (segment)
        {
            case "namespaces":
                resource = KubernetesTestResource.Namespaces;
                return true;
            case "pods":
                resource = KubernetesTestResource.Pods;
                return true;
            case "serviceaccounts":
                resource = KubernetesTestResource.ServiceAccounts;
                return true;
            default:
                resource = default;
                return false;
        }
    }

    private static string ResourceName(KubernetesTestResource resource) => resource switch
    {
        KubernetesTestResource.Namespaces => "namespaces",
        KubernetesTestResource.Pods => "pods",
        _ => "serviceaccounts",
    };

    private static void WriteObject(Utf8JsonWriter writer, KubernetesTestObject value)
    {
        writer.WriteStartObject();
        writer.WriteString("kind", "PartialObjectMetadata");
        writer.WriteString("apiVersion", "meta.k8s.io/v1");
        writer.WriteStartObject("metadata");
        writer.WriteString("name", value.Name);
        if (value.Namespace.Length > 0)
        {
            writer.WriteString("namespace", value.Namespace);
        }

        writer.WriteString("uid", value.Uid);
        writer.WriteString("resourceVersion", value.ResourceVersion);
        if (value.Labels.Count > 0)
        {
            writer.WriteStartObject("labels");
            foreach (var (key, label) in value.Labels)
            {
                writer.WriteString(key, label);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static string ObjectJson(KubernetesTestObject value)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteObject(writer, value);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static string EventLine(string type, KubernetesTestObject value) => $"{{\"type\":\"{type}\",\"object\":{ObjectJson(value)}}}";

    private static string BookmarkLine(long version, bool initialEventsEnd = false) =>
        $"{{\"type\":\"BOOKMARK\",\"object\":{{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{{\"resourceVersion\":\"{version.ToString(CultureInfo.InvariantCulture)}\"{(initialEventsEnd ? ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}" : string.Empty)}}}}}}}";

    private static string ExpiredEventLine() =>
        "{\"type\":\"ERROR\",\"object\":" + StatusJson(410, "Expired", "too old resource version") + "}";

    private static string StatusJson(int code, string reason, string message)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("kind", StatusKind);
            writer.WriteString("apiVersion", "v1");
            writer.WriteStartObject("metadata");
            writer.WriteEndObject();
            writer.WriteString("status", "Failure");
            writer.WriteString("message", message);
            writer.WriteString("reason", reason);
            writer.WriteNumber("code", code);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static Task WriteStatusAsync(HttpContext context, int code, string reason, string message) =>
        WriteJsonAsync(context, code, StatusJson(code, reason, message));

    private static async Task WriteJsonAsync(HttpContext context, int status, string json)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json, context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task WriteLineAsync(HttpResponse response, string line, CancellationToken cancellationToken)
    {
        await response.WriteAsync(line + "\n", cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private sealed record Change(long Version, string Type, KubernetesTestObject Value);

    private sealed class Watcher(KubernetesTestResource resource, string? ns, bool bookmarks)
    {
        public Channel<string> Lines { get; } = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });

        public bool Bookmarks { get; } = bookmarks;

        public volatile bool Cut;

        public bool Wants(KubernetesTestObject value) => value.Resource == resource && (ns is null || value.Namespace == ns);
    }

    private sealed class Outage(KubernetesTestApiServer server) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref server._outage);
            }
        }
    }
}
