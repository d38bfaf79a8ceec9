// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Authorization;

namespace Microsoft.AspNetCore.Authorization;

/// <summary>Typed policy methods, in the shape of Microsoft.Identity.Web's <c>RequireScope</c>.</summary>
public static class KubernetesAuthorizationPolicyBuilderExtensions
{
    /// <summary>Requires a Kubernetes service account of one of <paramref name="namespaces"/> (each may end with <c>*</c>).</summary>
    /// <param name="builder">The policy builder.</param>
    /// <param name="namespaces">Namespaces or prefixes ending with <c>*</c>; any one suffices.</param>
    /// <returns>The builder.</returns>
    public static AuthorizationPolicyBuilder RequireKubernetesNamespace(this AuthorizationPolicyBuilder builder, params string[] namespaces)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(namespaces);
        if (namespaces.Length == 0)
        {
            throw new ArgumentException("Name at least one namespace.", nameof(namespaces));
        }

        return namespaces.Length == 1
            ? builder.AddRequirements(new KubernetesServiceAccountRequirement(namespaces[0]))
            : builder.AddRequirements(new KubernetesAnyOfRequirement([.. namespaces.Select(ns => new KubernetesServiceAccountRequirement(ns))]));
    }

    /// <summary>Requires a Kubernetes service account of <paramref name="namespace"/> issued by <paramref name="cluster"/> (scheme name or <c>ClusterName</c>).</summary>
    /// <param name="builder">The policy builder.</param>
    /// <param name="namespace">The namespace (may end with <c>*</c>).</param>
    /// <param name="cluster">The cluster.</param>
    /// <returns>The builder.</returns>
    public static AuthorizationPolicyBuilder RequireKubernetesNamespaceInCluster(this AuthorizationPolicyBuilder builder, string @namespace, string cluster)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(cluster);
        return builder.AddRequirements(new KubernetesServiceAccountRequirement(@namespace, cluster: cluster));
    }

    /// <summary>Requires the Kubernetes service account <paramref name="namespace"/>/<paramref name="name"/>, optionally of one cluster.</summary>
    /// <param name="builder">The policy builder.</param>
    /// <param name="namespace">The namespace.</param>
    /// <param name="name">The service account name.</param>
    /// <param name="cluster">The cluster, or <see langword="null"/> for any.</param>
    /// <returns>The builder.</returns>
    public static AuthorizationPolicyBuilder RequireKubernetesServiceAccount(this AuthorizationPolicyBuilder builder, string @namespace, string name, string? cluster = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return builder.AddRequirements(new KubernetesServiceAccountRequirement(@namespace, name, cluster));
    }
}
