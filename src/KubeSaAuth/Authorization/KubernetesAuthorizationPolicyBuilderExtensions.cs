// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Authorization;
using KubeSaAuth.ClusterView;

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

    /// <summary>
    /// Requires a Kubernetes caller whose namespace's labels match <paramref name="selector"/> (the whole Kubernetes
    /// syntax: <c>env=prod</c>, <c>env in (prod,staging)</c>, <c>!legacy</c>, comma = AND), as the cluster view sees them
    /// (<c>ClusterView:Enabled</c>); the same as the policy name <c>namespace-selector:&lt;selector&gt;</c>.
    /// </summary>
    /// <param name="builder">The policy builder.</param>
    /// <param name="selector">The label selector.</param>
    /// <param name="cluster">The cluster, or <see langword="null"/> for any.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The selector does not parse.</exception>
    public static AuthorizationPolicyBuilder RequireKubernetesNamespaceLabels(this AuthorizationPolicyBuilder builder, string selector, string? cluster = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddRequirements(Create(LabelTarget.Namespace, selector, cluster));
    }

    /// <summary>
    /// Requires a Kubernetes caller whose token is bound to a Pod whose labels match <paramref name="selector"/>, as the
    /// cluster view sees them (<c>ClusterView:Enabled</c>); a token not bound to a Pod never matches. The same as the
    /// policy name <c>pod-selector:&lt;selector&gt;</c>.
    /// </summary>
    /// <param name="builder">The policy builder.</param>
    /// <param name="selector">The label selector, e.g. <c>app in (checkout,payments),tier!=canary</c>.</param>
    /// <param name="cluster">The cluster, or <see langword="null"/> for any.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The selector does not parse.</exception>
    public static AuthorizationPolicyBuilder RequireKubernetesPodLabels(this AuthorizationPolicyBuilder builder, string selector, string? cluster = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddRequirements(Create(LabelTarget.Pod, selector, cluster));
    }

    private static KubernetesLabelSelectorRequirement Create(LabelTarget target, string selector, string? cluster)
    {
        ArgumentNullException.ThrowIfNull(selector);
        if (cluster is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(cluster);
        }

        return LabelSelector.TryParse(selector, out var parsed, out var error)
            ? new KubernetesLabelSelectorRequirement(target, parsed, cluster)
            : throw new ArgumentException($"The label selector '{selector}' does not parse: {error}.", nameof(selector));
    }
}
