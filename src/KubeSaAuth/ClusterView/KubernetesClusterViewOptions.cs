// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;

namespace KubeSaAuth;

/// <summary>
/// Options of the cluster view: a live, metadata-only copy of the cluster's Namespaces, Pods and
/// ServiceAccounts (one LIST and one WATCH per resource, as Kubernetes controllers do). It gives the
/// <c>namespace-selector:</c> and <c>pod-selector:</c> policies their labels, and refuses a bound token whose
/// Pod or ServiceAccount no longer exists with the token's uid, as the API server does
/// (<c>pkg/serviceaccount/claims.go</c>) — from memory, without a call per token.
/// </summary>
/// <remarks>
/// Needs <c>list</c> and <c>watch</c> on <c>namespaces</c>, <c>pods</c> and <c>serviceaccounts</c>, and <c>get</c>
/// on <c>pods</c> and <c>serviceaccounts</c> (samples/k8s). Secrets are never watched.
/// </remarks>
public sealed class KubernetesClusterViewOptions
{
    /// <summary>Whether the view is kept.</summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool Enabled { get; set; }

    /// <summary>
    /// The API server base address, e.g. <c>https://10.0.0.1:6443</c>, for a service outside the cluster (it then
    /// trusts <c>BackchannelCaCertificatePath</c> and sends the token of <c>BackchannelTokenPath</c>).
    /// </summary>
    /// <value>Default <see langword="null"/>: <c>TokenReview:ApiServer</c> when set, else the in-cluster API server
    /// (the Pod's own token and <c>ca.crt</c>). A cluster of <c>Clusters</c> gets the in-cluster API server only when
    /// it is <c>InCluster</c>; otherwise one of the two must be set (a start error names the key). Never inherited
    /// from the scheme level.</value>
    public string? ApiServer { get; set; }

    /// <summary>
    /// The namespaces whose Pods and ServiceAccounts are watched (namespaced endpoints: a Role per namespace
    /// suffices). Callers of other namespaces are neither revoked nor matched by <c>pod-selector:</c> policies.
    /// </summary>
    /// <value>Default empty: every namespace (cluster-wide <c>list</c>/<c>watch</c>, a ClusterRole).</value>
    public ICollection<string> Namespaces { get; } = new DistinctStringCollection();

    /// <summary>
    /// Whether Namespace objects are watched (their labels feed <c>namespace-selector:</c> policies). Namespaces are
    /// cluster-scoped: watching them needs a ClusterRole even when <see cref="Namespaces"/> is set.
    /// </summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool WatchNamespaces { get; set; } = true;

    /// <summary>Whether a bound token whose Pod or ServiceAccount is gone (or has another uid) is refused.</summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool Revocation { get; set; } = true;

    /// <summary>
    /// Whether the initial state (and a relist after 410 Gone) is asked as a streaming list: one WATCH with
    /// <c>sendInitialEvents=true</c>, which the API server serves from its watch cache, event by event, instead of
    /// building list pages in memory (Kubernetes' WatchList, KEP-3157). A server that refuses it (422, e.g. Kubernetes
    /// 1.33, whose WatchList feature gate is off by default, or an older one) is asked for paged LISTs instead, and
    /// never asked again by this process.
    /// </summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool StreamingLists { get; set; } = true;

    /// <summary>The number of objects asked per LIST page (<c>limit</c>).</summary>
    /// <value>Default 500, as client-go's informers.</value>
    public int PageSize { get; set; } = 500;

    /// <summary>
    /// The shortest watch the server is asked to hold (<c>timeoutSeconds</c>); each watch asks a random length
    /// between this and twice this, so that replicas do not reconnect together. A closed watch resumes from the
    /// last resourceVersion seen, without a new LIST.
    /// </summary>
    /// <value>Default 5 minutes, as client-go's reflector.</value>
    public TimeSpan WatchTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long the answer of a GET of one Pod or ServiceAccount the view does not know yet (its ADDED event
    /// still on the way) is reused.
    /// </summary>
    /// <value>Default 5 seconds.</value>
    public TimeSpan LookupCacheDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The largest number of such GETs per second; past it, the caller is decided without one (admitted unless known gone).</summary>
    /// <value>Default 20.</value>
    public int MaxLookupsPerSecond { get; set; } = 20;

    internal string? GetValidationError(string prefix = "ClusterView:")
    {
        if (!Enabled)
        {
            return null;
        }

        if (!string.IsNullOrWhiteSpace(ApiServer) && !Uri.TryCreate(ApiServer, UriKind.Absolute, out _))
        {
            return $"The '{prefix}{nameof(ApiServer)}' option ('{ApiServer}') must be an absolute URL, e.g. 'https://10.0.0.1:6443'.";
        }

        if (PageSize is < 1 or > 10_000)
        {
            return $"The '{prefix}{nameof(PageSize)}' option ({PageSize.ToString(CultureInfo.InvariantCulture)}) must be between 1 and 10000.";
        }

        if (WatchTimeout < TimeSpan.FromSeconds(1) || WatchTimeout > TimeSpan.FromHours(1))
        {
            return $"The '{prefix}{nameof(WatchTimeout)}' option ({WatchTimeout}) must be between 00:00:01 and 01:00:00.";
        }

        if (LookupCacheDuration < TimeSpan.Zero || LookupCacheDuration > TimeSpan.FromMinutes(5))
        {
            return $"The '{prefix}{nameof(LookupCacheDuration)}' option ({LookupCacheDuration}) must be between 00:00:00 and 00:05:00.";
        }

        if (MaxLookupsPerSecond < 0)
        {
            return $"The '{prefix}{nameof(MaxLookupsPerSecond)}' option ({MaxLookupsPerSecond.ToString(CultureInfo.InvariantCulture)}) must be 0 (no lookups) or more.";
        }

        foreach (var ns in Namespaces)
        {
            if (!Tokens.KubernetesNames.IsDns1123Label(ns))
            {
                return $"The '{prefix}{nameof(Namespaces)}' option names '{ns}', which is not a namespace name (a DNS-1123 label).";
            }
        }

        return null;
    }
}
