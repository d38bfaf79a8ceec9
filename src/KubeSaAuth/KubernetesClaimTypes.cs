// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth;

/// <summary>
/// Claim types issued by the Kubernetes service-account handler. Besides these, the identity carries
/// <see cref="System.Security.Claims.ClaimTypes.Name"/> (<c>system:serviceaccount:&lt;ns&gt;:&lt;name&gt;</c>),
/// <see cref="System.Security.Claims.ClaimTypes.NameIdentifier"/> (the token's <c>sub</c>) and
/// <see cref="System.Security.Claims.ClaimTypes.Role"/> claims for the groups Kubernetes grants.
/// </summary>
public static class KubernetesClaimTypes
{
    /// <summary>The namespace of the service account.</summary>
    public const string Namespace = "kubernetes.io/namespace";

    /// <summary>The name of the service account.</summary>
    public const string ServiceAccountName = "kubernetes.io/serviceaccount/name";

    /// <summary>The UID of the service account.</summary>
    public const string ServiceAccountUid = "kubernetes.io/serviceaccount/uid";

    /// <summary>The name of the Pod the token is bound to.</summary>
    public const string PodName = "kubernetes.io/pod/name";

    /// <summary>The UID of the Pod the token is bound to.</summary>
    public const string PodUid = "kubernetes.io/pod/uid";

    /// <summary>The name of the node the token (or its Pod) is bound to.</summary>
    public const string NodeName = "kubernetes.io/node/name";

    /// <summary>The UID of the node the token (or its Pod) is bound to.</summary>
    public const string NodeUid = "kubernetes.io/node/uid";

    /// <summary>The name of the Secret the token is bound to (or, for a legacy token, stored in).</summary>
    public const string SecretName = "kubernetes.io/secret/name";

    /// <summary>The UID of the Secret the token is bound to.</summary>
    public const string SecretUid = "kubernetes.io/secret/uid";

    /// <summary>The kind of token: <c>bound</c> or <c>legacy</c>.</summary>
    public const string TokenKind = "kubernetes.io/token-kind";

    /// <summary>The cluster that issued the token: the configured cluster name, else the scheme name.</summary>
    public const string Cluster = "kubernetes.io/cluster";

    /// <summary>The token's audiences (one claim per audience).</summary>
    public const string Audience = "aud";

    /// <summary>The token's unique identifier (<c>jti</c>, Kubernetes 1.29+).</summary>
    public const string TokenId = "jti";

    /// <summary>
    /// The token's credential identifier as Kubernetes states it, <c>JTI=&lt;jti&gt;</c> (the
    /// <c>authentication.kubernetes.io/credential-id</c> extra of the API server's user); only when the token has a <c>jti</c>.
    /// </summary>
    public const string CredentialId = "authentication.kubernetes.io/credential-id";

    /// <summary>The value of <see cref="TokenKind"/> for bound (projected) tokens.</summary>
    public const string BoundTokenKind = "bound";

    /// <summary>The value of <see cref="TokenKind"/> for legacy (secret-based) tokens.</summary>
    public const string LegacyTokenKind = "legacy";
}
