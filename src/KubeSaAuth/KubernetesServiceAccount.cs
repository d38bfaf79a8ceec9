// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.ClusterView;

namespace KubeSaAuth;

/// <summary>
/// The caller that a validated Kubernetes service-account token identifies: a typed view of the claims,
/// obtained with <see cref="KubernetesClaimsPrincipalExtensions.GetKubernetesServiceAccount(System.Security.Claims.ClaimsPrincipal)"/>.
/// </summary>
public sealed record KubernetesServiceAccount
{
    /// <summary>The namespace of the service account.</summary>
    public required string Namespace { get; init; }

    /// <summary>The name of the service account.</summary>
    public required string Name { get; init; }

    /// <summary>The UID of the service account; <see langword="null"/> when the token does not carry one.</summary>
    public string? Uid { get; init; }

    /// <summary>The name of the Pod the token is bound to, if any.</summary>
    public string? PodName { get; init; }

    /// <summary>The UID of the Pod the token is bound to, if any.</summary>
    public string? PodUid { get; init; }

    /// <summary>The name of the node the token (or its Pod) is bound to, if any.</summary>
    public string? NodeName { get; init; }

    /// <summary>The UID of the node the token (or its Pod) is bound to, if any.</summary>
    public string? NodeUid { get; init; }

    /// <summary>The name of the Secret the token is bound to or stored in, if any.</summary>
    public string? SecretName { get; init; }

    /// <summary>The UID of the Secret the token is bound to, if any.</summary>
    public string? SecretUid { get; init; }

    /// <summary>The token's issuer (<c>iss</c>).</summary>
    public required string Issuer { get; init; }

    /// <summary>The cluster: the configured cluster name, else the authentication scheme name.</summary>
    public required string Cluster { get; init; }

    /// <summary><see langword="true"/> for a legacy (secret-based, non-expiring) token.</summary>
    public bool IsLegacy { get; init; }

    /// <summary>The token's audiences; empty for legacy tokens.</summary>
    public IReadOnlyList<string> Audiences { get; init; } = [];

    /// <summary>The token's unique identifier (<c>jti</c>), if any.</summary>
    public string? TokenId { get; init; }

    /// <summary>
    /// The credential identifier Kubernetes gives the token, <c>JTI=&lt;jti&gt;</c>: what the API server puts in the
    /// user's <c>authentication.kubernetes.io/credential-id</c> extra and in its audit log, so that a request here
    /// can be traced to the token's issue; <see langword="null"/> when the token has no <c>jti</c> (before
    /// Kubernetes 1.29, and legacy tokens).
    /// </summary>
    public string? CredentialId => string.IsNullOrEmpty(TokenId) ? null : "JTI=" + TokenId;

    /// <summary>When the token was issued (<c>iat</c>), if stated.</summary>
    public DateTimeOffset? IssuedAt { get; init; }

    /// <summary>When the token becomes valid (<c>nbf</c>), if stated.</summary>
    public DateTimeOffset? NotBefore { get; init; }

    /// <summary>When the token expires (<c>exp</c>); <see langword="null"/> for legacy tokens.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>
    /// For an auto-mounted token whose lifetime the API server extended, when it would have expired
    /// (<c>kubernetes.io.warnafter</c>); <see langword="null"/> otherwise.
    /// </summary>
    public DateTimeOffset? WarnAfter { get; init; }

    /// <summary>
    /// The labels of the caller's namespace, from the cluster view (<see cref="KubernetesServiceAccountOptions.ClusterView"/>),
    /// read live on each access; <see langword="null"/> when the view is off or does not know the namespace.
    /// </summary>
    public IReadOnlyDictionary<string, string>? NamespaceLabels => View?.GetNamespaceLabels(Namespace);

    /// <summary>
    /// The labels of the Pod the token is bound to, from the cluster view, read live on each access; <see langword="null"/>
    /// when the view is off, the token is not bound to a Pod, or no Pod of that name exists with the token's pod uid.
    /// </summary>
    public IReadOnlyDictionary<string, string>? PodLabels => View?.GetPodLabels(this);

    /// <summary>The view of the cluster that issued the token, when it keeps one.</summary>
    internal KubernetesClusterView? View { get; init; }

    /// <summary>The Kubernetes username: <c>system:serviceaccount:&lt;namespace&gt;:&lt;name&gt;</c>.</summary>
    public string Username => KubernetesServiceAccountDefaults.UsernamePrefix + Namespace + ":" + Name;

    /// <summary>The groups Kubernetes grants this service account: <c>system:serviceaccounts</c>, <c>system:serviceaccounts:&lt;namespace&gt;</c>, <c>system:authenticated</c>.</summary>
    public IReadOnlyList<string> Groups =>
    [
        KubernetesServiceAccountDefaults.ServiceAccountsGroup,
        KubernetesServiceAccountDefaults.NamespaceGroupPrefix + Namespace,
        KubernetesServiceAccountDefaults.AuthenticatedGroup,
    ];
}
