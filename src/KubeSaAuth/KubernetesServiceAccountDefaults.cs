// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth;

/// <summary>Default values used by the Kubernetes service-account authentication handler.</summary>
public static class KubernetesServiceAccountDefaults
{
    /// <summary>The default authentication scheme name: <c>KubernetesServiceAccount</c>.</summary>
    public const string AuthenticationScheme = "KubernetesServiceAccount";

    /// <summary>The display name of the default scheme.</summary>
    public const string DisplayName = "Kubernetes service account";

    /// <summary>The issuer of legacy (secret-based) service-account tokens: <c>kubernetes/serviceaccount</c>.</summary>
    public const string LegacyIssuer = "kubernetes/serviceaccount";

    /// <summary>The path of the OpenID discovery document relative to the issuer or API server.</summary>
    public const string DiscoveryPath = "/.well-known/openid-configuration";

    /// <summary>The path at which the Kubernetes API server serves its JWKS.</summary>
    public const string JwksPath = "/openid/v1/jwks";

    /// <summary>The directory where Kubernetes mounts a Pod's service-account token, CA and namespace.</summary>
    public const string ServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount";

    /// <summary>The prefix of every service-account username: <c>system:serviceaccount:</c>.</summary>
    public const string UsernamePrefix = "system:serviceaccount:";

    /// <summary>The group Kubernetes grants to every service account: <c>system:serviceaccounts</c>.</summary>
    public const string ServiceAccountsGroup = "system:serviceaccounts";

    /// <summary>The prefix of the per-namespace group: <c>system:serviceaccounts:</c>.</summary>
    public const string NamespaceGroupPrefix = "system:serviceaccounts:";

    /// <summary>The group Kubernetes grants to every authenticated user: <c>system:authenticated</c>.</summary>
    public const string AuthenticatedGroup = "system:authenticated";

    /// <summary>The name of the <see cref="System.Diagnostics.Metrics.Meter"/> and <see cref="System.Diagnostics.ActivitySource"/>: <c>KubeSaAuth</c>.</summary>
    public const string TelemetryName = "KubeSaAuth";
}
