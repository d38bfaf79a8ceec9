// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Tokens;
using Microsoft.AspNetCore.Authorization;

namespace KubeSaAuth.Authorization;

/// <summary>
/// Requires a caller authenticated by a Kubernetes service-account scheme whose namespace (and,
/// optionally, service-account name and cluster) match. Only identities issued by this library's
/// handler count: claims of the same names from another scheme do not satisfy it.
/// </summary>
public sealed class KubernetesServiceAccountRequirement : AuthorizationHandler<KubernetesServiceAccountRequirement>, IAuthorizationRequirement, IKubernetesIdentityRequirement
{
    /// <summary>Creates the requirement.</summary>
    /// <param name="namespacePattern">A namespace, or a prefix ending with <c>*</c> (<c>team-*</c>); <c>*</c> alone admits every namespace.</param>
    /// <param name="serviceAccountName">The service account name; <see langword="null"/> admits any in the namespace.</param>
    /// <param name="cluster">The cluster (<see cref="KubernetesServiceAccountOptions.ClusterName"/> or scheme name); <see langword="null"/> admits any.</param>
    public KubernetesServiceAccountRequirement(string namespacePattern, string? serviceAccountName = null, string? cluster = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(namespacePattern);
        var star = namespacePattern.IndexOf('*', StringComparison.Ordinal);
        if (star >= 0 && star != namespacePattern.Length - 1)
        {
            throw new ArgumentException($"The namespace pattern '{namespacePattern}' may only end with '*'.", nameof(namespacePattern));
        }

        if (serviceAccountName is not null && star >= 0)
        {
            throw new ArgumentException("A service-account requirement names one namespace, without '*'.", nameof(namespacePattern));
        }

        NamespacePattern = namespacePattern;
        ServiceAccountName = serviceAccountName;
        Cluster = cluster;
    }

    /// <summary>The namespace, or a prefix ending with <c>*</c>.</summary>
    public string NamespacePattern { get; }

    /// <summary>The service account name, or <see langword="null"/> for any.</summary>
    public string? ServiceAccountName { get; }

    /// <summary>The cluster, or <see langword="null"/> for any.</summary>
    public string? Cluster { get; }

    /// <summary>Whether <paramref name="serviceAccount"/> satisfies this requirement.</summary>
    /// <param name="serviceAccount">The caller.</param>
    /// <returns><see langword="true"/> when it matches.</returns>
    public bool IsSatisfiedBy(KubernetesServiceAccount serviceAccount)
    {
        ArgumentNullException.ThrowIfNull(serviceAccount);
        if (Cluster is not null && !string.Equals(serviceAccount.Cluster, Cluster, StringComparison.Ordinal))
        {
            return false;
        }

        var namespaceMatches = NamespacePattern.EndsWith('*')
            ? serviceAccount.Namespace.StartsWith(NamespacePattern.AsSpan(0, NamespacePattern.Length - 1), StringComparison.Ordinal)
            : string.Equals(serviceAccount.Namespace, NamespacePattern, StringComparison.Ordinal);
        return namespaceMatches && (ServiceAccountName is null || string.Equals(serviceAccount.Name, ServiceAccountName, StringComparison.Ordinal));
    }

    /// <inheritdoc />
    public override Task HandleAsync(AuthorizationHandlerContext context)
    {
        ArgumentNullException.ThrowIfNull(context);

        // What the base class does (every requirement of this type in the policy), without its LINQ
        // enumerator and async state machine: this runs on every authorized request.
        if (context.Requirements is not IReadOnlyList<IAuthorizationRequirement> requirements)
        {
            return base.HandleAsync(context);
        }

        for (var i = 0; i < requirements.Count; i++)
        {
            if (requirements[i] is KubernetesServiceAccountRequirement requirement)
            {
                Handle(context, requirement);
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, KubernetesServiceAccountRequirement requirement)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(requirement);
        Handle(context, requirement);
        return Task.CompletedTask;
    }

    private static void Handle(AuthorizationHandlerContext context, KubernetesServiceAccountRequirement requirement) =>
        KubernetesIdentityRequirement.Handle(context, requirement);

    /// <inheritdoc />
    public override string ToString() =>
        ServiceAccountName is null
            ? $"Kubernetes namespace '{NamespacePattern}'{(Cluster is null ? string.Empty : $" of cluster '{Cluster}'")}"
            : $"Kubernetes service account '{NamespacePattern}/{ServiceAccountName}'{(Cluster is null ? string.Empty : $" of cluster '{Cluster}'")}";
}
