// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Tokens;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.ClusterView;

/// <summary>
/// One cluster's live view of its Namespaces, Pods and ServiceAccounts (metadata only), kept by one
/// <see cref="Reflector"/> per resource (per namespace when <c>ClusterView:Namespaces</c> is set). Requests read it
/// from memory: the labels of the caller's namespace and Pod, and whether the Pod and ServiceAccount of its
/// token still exist with the token's uid — the API server's own check (k8s <c>pkg/serviceaccount/claims.go</c>).
/// </summary>
internal sealed class KubernetesClusterView : IAsyncDisposable
{
    internal const string NamespacesResource = "namespaces";
    internal const string PodsResource = "pods";
    internal const string ServiceAccountsResource = "serviceaccounts";

    /// <summary>k8s pkg/serviceaccount/claims.go: an object whose deletion began over 60 s ago no longer backs its tokens.</summary>
    internal static readonly TimeSpan DeletionGracePeriod = TimeSpan.FromSeconds(60);

    private readonly KubernetesClusterViewOptions _options;
    private readonly HashSet<string>? _namespaces;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private CancellationTokenSource? _stop;
    private Task[]? _running;

    public KubernetesClusterView(string cluster, KubernetesClusterViewOptions options, MetadataClient client, TimeSpan requestTimeout, TimeProvider time, ILogger logger)
    {
        Cluster = cluster;
        _options = options;
        _time = time;
        _logger = logger;
        Client = client;
        Pool = new StringPool();
        _namespaces = options.Namespaces.Count == 0 ? null : new HashSet<string>(options.Namespaces, StringComparer.Ordinal);
        Pods = new ObjectStore(PodsResource, time);
        ServiceAccounts = new ObjectStore(ServiceAccountsResource, time);
        Namespaces = options.WatchNamespaces ? new ObjectStore(NamespacesResource, time) : null;

        var reflectors = new List<Reflector>();
        if (Namespaces is not null)
        {
            reflectors.Add(new Reflector(NamespacesResource, null, client, Namespaces, Pool, options, requestTimeout, time, logger, cluster));
        }

        foreach (var ns in _namespaces is null ? [null] : options.Namespaces.Order(StringComparer.Ordinal).Cast<string?>())
        {
            reflectors.Add(new Reflector(PodsResource, ns, client, Pods, Pool, options, requestTimeout, time, logger, cluster));
            reflectors.Add(new Reflector(ServiceAccountsResource, ns, client, ServiceAccounts, Pool, options, requestTimeout, time, logger, cluster));
        }

        Reflectors = reflectors;
        Lookup = new ObjectLookup(client, Pool, options, requestTimeout, time, logger, cluster);
    }

    public string Cluster { get; }

    public MetadataClient Client { get; }

    public StringPool Pool { get; }

    public ObjectStore Pods { get; }

    public ObjectStore ServiceAccounts { get; }

    /// <summary><see langword="null"/> when <c>ClusterView:WatchNamespaces</c> is off.</summary>
    public ObjectStore? Namespaces { get; }

    public IReadOnlyList<Reflector> Reflectors { get; }

    public ObjectLookup Lookup { get; }

    /// <summary>Completes when every resource was listed once.</summary>
    public Task Synced => Task.WhenAll(Reflectors.Select(r => r.Synced));

    /// <summary>Completes when every resource's first LIST succeeded or failed.</summary>
    public Task FirstAttempt => Task.WhenAll(Reflectors.Select(r => r.FirstAttempt));

    /// <summary>Starts the list/watch loops (once).</summary>
    public void Start()
    {
        lock (_gate)
        {
            if (_running is not null)
            {
                return;
            }

            _stop = new CancellationTokenSource();
            var token = _stop.Token;
            _running = [.. Reflectors.Select(r => Task.Run(() => r.RunAsync(token), CancellationToken.None))];
        }

        if (_logger.IsEnabled(LogLevel.Information))
        {
            var resources = string.Join(", ", Reflectors.Select(r => r.Description));
            var address = Client.ApiServer.ToString();
            ClusterViewLog.ViewStarted(_logger, Cluster, resources, address);
        }
    }

    public async Task StopAsync()
    {
        Task[]? running;
        lock (_gate)
        {
            running = _running;
            _stop?.Cancel();
        }

        if (running is not null)
        {
            try
            {
                await Task.WhenAll(running).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop?.Dispose();
    }

    /// <summary>Whether the Pods and ServiceAccounts of <paramref name="namespace"/> are watched.</summary>
    public bool Covers(string @namespace) => _namespaces is null || _namespaces.Contains(@namespace);

    /// <summary>The labels of <paramref name="namespace"/>; <see langword="null"/> when the view does not know it (or RBAC refuses its list or watch).</summary>
    public LabelSet? GetNamespaceLabels(string @namespace) =>
        Namespaces is not null && !Namespaces.IsRefused(string.Empty) && Namespaces.TryGet(string.Empty, @namespace, out var value) ? value!.Labels : null;

    /// <summary>
    /// The labels of the caller's Pod: the Pod its token is bound to, known to exist with the token's pod uid;
    /// <see langword="null"/> otherwise (not bound to a Pod, not watched, not known).
    /// </summary>
    public LabelSet? GetPodLabels(KubernetesServiceAccount serviceAccount)
    {
        if (serviceAccount.PodName is not { } pod || serviceAccount.PodUid is not { } uid || !Covers(serviceAccount.Namespace) || Pods.IsRefused(serviceAccount.Namespace))
        {
            // RBAC refusing the pods' list or watch: labels not kept current never decide (label policies refuse).
            return null;
        }

        if (Pods.TryGet(serviceAccount.Namespace, pod, out var value))
        {
            return string.Equals(value!.Uid, uid, StringComparison.Ordinal) ? value.Labels : null;
        }

        return !Pods.WasDeleted(serviceAccount.Namespace, pod, uid)
            && Lookup.TryGetRecent(PodsResource, serviceAccount.Namespace, pod, out var found)
            && found is not null && string.Equals(found.Uid, uid, StringComparison.Ordinal)
            ? found.Labels
            : null;
    }

    /// <summary>
    /// Refuses a token whose Pod or ServiceAccount no longer exists with the token's uid: from memory when the view
    /// knows the object (the common case: completes synchronously, allocates nothing), else after one GET.
    /// </summary>
    public ValueTask<TokenFailure?> CheckAsync(KubernetesServiceAccount serviceAccount, CancellationToken cancellationToken)
    {
        if (!_options.Revocation || !Covers(serviceAccount.Namespace))
        {
            return default;
        }

        var pod = Presence.Alive;
        if (serviceAccount.PodName is { } podName && serviceAccount.PodUid is { Length: > 0 } podUid)
        {
            pod = Decide(Pods, serviceAccount.Namespace, podName, podUid);
            if (pod >= Presence.Deleted)
            {
                return new ValueTask<TokenFailure?>(Refuse(serviceAccount, PodsResource, podName, pod));
            }
        }

        var account = Presence.Alive;
        if (serviceAccount.Uid is { Length: > 0 } uid)
        {
            account = Decide(ServiceAccounts, serviceAccount.Namespace, serviceAccount.Name, uid);
            if (account >= Presence.Deleted)
            {
                return new ValueTask<TokenFailure?>(Refuse(serviceAccount, ServiceAccountsResource, serviceAccount.Name, account));
            }
        }

        return pod == Presence.Unknown || account == Presence.Unknown
            ? LookUpAsync(serviceAccount, pod == Presence.Unknown, account == Presence.Unknown, cancellationToken)
            : default;
    }

    private async ValueTask<TokenFailure?> LookUpAsync(KubernetesServiceAccount serviceAccount, bool pod, bool account, CancellationToken cancellationToken)
    {
        if (pod)
        {
            var presence = await LookUpAsync(PodsResource, serviceAccount.Namespace, serviceAccount.PodName!, serviceAccount.PodUid!, cancellationToken).ConfigureAwait(false);
            if (presence >= Presence.Deleted)
            {
                return Refuse(serviceAccount, PodsResource, serviceAccount.PodName!, presence);
            }
        }

        if (account)
        {
            var presence = await LookUpAsync(ServiceAccountsResource, serviceAccount.Namespace, serviceAccount.Name, serviceAccount.Uid!, cancellationToken).ConfigureAwait(false);
            if (presence >= Presence.Deleted)
            {
                return Refuse(serviceAccount, ServiceAccountsResource, serviceAccount.Name, presence);
            }
        }

        return null;
    }

    private async ValueTask<Presence> LookUpAsync(string resource, string @namespace, string name, string uid, CancellationToken cancellationToken)
    {
        var answer = await Lookup.LookupAsync(resource, @namespace, name, cancellationToken).ConfigureAwait(false);
        if (answer is null)
        {
            // Not asked (rate) or no answer (outage): decided with the view in hand — only evidence refuses.
            return Presence.Unknown;
        }

        var store = resource == PodsResource ? Pods : ServiceAccounts;
        if (store.TryGet(@namespace, name, out _) || store.WasDeleted(@namespace, name, uid))
        {
            // The watch caught up meanwhile: it is the fresher source.
            return Decide(store, @namespace, name, uid);
        }

        return Judge(answer.Found, uid);
    }

    /// <summary>From memory: the store, then the deletions seen, then a recent GET.</summary>
    private Presence Decide(ObjectStore store, string @namespace, string name, string uid)
    {
        if (store.TryGet(@namespace, name, out var value))
        {
            return Judge(value, uid);
        }

        if (store.WasDeleted(@namespace, name, uid))
        {
            return Presence.Deleted;
        }

        return Lookup.TryGetRecent(store.Resource, @namespace, name, out var found) ? Judge(found, uid) : Presence.Unknown;
    }

    private Presence Judge(ViewObject? value, string uid)
    {
        if (value is null)
        {
            return Presence.Deleted;
        }

        if (!string.Equals(value.Uid, uid, StringComparison.Ordinal))
        {
            return Presence.Recreated;
        }

        return value.DeletionTimestamp is { } deletion && deletion < _time.GetUtcNow() - DeletionGracePeriod
            ? Presence.BeingDeleted
            : Presence.Alive;
    }

    /// <summary>The refusal, naming the token's object (never configuration).</summary>
    private static TokenFailure Refuse(KubernetesServiceAccount serviceAccount, string resource, string name, Presence presence)
    {
        var kind = resource == PodsResource ? "pod" : "service account";
        var description = presence switch
        {
            Presence.Recreated => $"the token's {kind} '{name}' no longer exists (a {kind} of that name now has another uid)",
            Presence.BeingDeleted => $"the token's {kind} '{name}' no longer exists (its deletion began over 60 seconds ago)",
            _ => $"the token's {kind} '{name}' no longer exists",
        };
        return new TokenFailure(KubernetesTokenFailureReason.BoundObjectGone, description, Namespace: serviceAccount.Namespace, ServiceAccount: serviceAccount.Name, IsLegacy: serviceAccount.IsLegacy);
    }

    private enum Presence
    {
        Alive,
        Unknown,
        Deleted,
        Recreated,
        BeingDeleted,
    }
}
