// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using KubeSaAuth.TokenReview;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Authorization;

/// <summary>
/// Policies by name, without registration (aspnetcore samples/CustomPolicyProvider): <c>namespace:&lt;ns&gt;</c>,
/// <c>namespace:&lt;prefix&gt;*</c>, <c>serviceaccount:&lt;ns&gt;:&lt;name&gt;</c>, each optionally followed by
/// <c>@&lt;cluster&gt;</c> (Kubernetes names never contain '@'). Policies the application registered
/// win: the default provider is asked first. The policies authenticate with the Kubernetes schemes of the
/// cluster they name, or with every Kubernetes scheme.
/// </summary>
internal sealed class KubernetesAuthorizationPolicyProvider(IOptions<AuthorizationOptions> options, KubernetesPolicySchemes schemes)
    : DefaultAuthorizationPolicyProvider(options)
{
    internal const string NamespacePrefix = "namespace:";
    internal const string ServiceAccountPrefix = "serviceaccount:";
    internal const string NamespaceSelectorPrefix = "namespace-selector:";
    internal const string PodSelectorPrefix = "pod-selector:";

    /// <summary>Built policies kept at most (names come from code; the cap guards against names built from input).</summary>
    internal const int MaxCachedPolicies = 1024;

    // The completed task per name, so that a lookup allocates nothing. Unknown names are remembered too.
    private readonly ConcurrentDictionary<string, Task<AuthorizationPolicy?>> _policies = new(StringComparer.Ordinal);

    /// <summary>
    /// Every name maps to one fixed policy (registered policies come from options; ours are built once and
    /// kept), so the authorization middleware may cache the combined policy of each endpoint instead of
    /// asking again on every request. The base class allows that only for its own type.
    /// </summary>
    public override bool AllowsCachingPolicies => true;

    public override Task<AuthorizationPolicy?> GetPolicyAsync(string policyName)
    {
        // The default provider answers synchronously from the options (a cached task per name).
        var registered = base.GetPolicyAsync(policyName);
        if (!registered.IsCompletedSuccessfully || registered.Result is not null)
        {
            return registered;
        }

        return _policies.TryGetValue(policyName, out var cached) ? cached : BuildAsync(policyName);
    }

    private async Task<AuthorizationPolicy?> BuildAsync(string policyName)
    {
        IAuthorizationRequirement? requirement = string.Equals(policyName, KubernetesLiveTokenReview.PolicyName, StringComparison.Ordinal)
            ? new KubernetesLiveTokenReviewRequirement()
            : (IAuthorizationRequirement?)TryParseSelector(policyName) ?? TryParse(policyName);
        AuthorizationPolicy? policy = null;
        if (requirement is not null)
        {
            // '@cluster' authenticates with that cluster's schemes only: another cluster's outage never
            // reaches it. Without '@cluster', every Kubernetes scheme.
            var cluster = requirement switch
            {
                KubernetesServiceAccountRequirement single => single.Cluster,
                KubernetesLabelSelectorRequirement labels => labels.Cluster,
                _ => null,
            };
            var kubernetesSchemes = await schemes.ForClusterAsync(cluster).ConfigureAwait(false);
            // No separate RequireAuthenticatedUser: both requirements are met only by an authenticated
            // Kubernetes identity, so a DenyAnonymous requirement would be a second, redundant check.
            policy = new AuthorizationPolicyBuilder(kubernetesSchemes)
                .AddRequirements(requirement)
                .Build();
        }

        var task = Task.FromResult(policy);
        if (_policies.Count >= MaxCachedPolicies)
        {
            return policy;
        }

        // First writer wins, so every caller sees the same policy object for a name.
        return await _policies.GetOrAdd(policyName, task).ConfigureAwait(false);
    }

    /// <summary>
    /// Parses <c>namespace-selector:&lt;selector&gt;[@cluster]</c> and <c>pod-selector:&lt;selector&gt;[@cluster]</c>;
    /// <see langword="null"/> for other names.
    /// </summary>
    /// <exception cref="InvalidOperationException">The selector does not parse: an error naming the policy, never a silent deny.</exception>
    internal static KubernetesLabelSelectorRequirement? TryParseSelector(string policyName)
    {
        var target = policyName.StartsWith(NamespaceSelectorPrefix, StringComparison.Ordinal) ? LabelTarget.Namespace
            : policyName.StartsWith(PodSelectorPrefix, StringComparison.Ordinal) ? LabelTarget.Pod
            : (LabelTarget?)null;
        if (target is null)
        {
            return null;
        }

        // Label keys and values never contain '@': the last one starts the cluster.
        var body = policyName[(target == LabelTarget.Namespace ? NamespaceSelectorPrefix : PodSelectorPrefix).Length..];
        string? cluster = null;
        var at = body.LastIndexOf('@');
        if (at >= 0)
        {
            cluster = body[(at + 1)..];
            body = body[..at];
            if (cluster.Length == 0)
            {
                throw new InvalidOperationException($"The authorization policy '{policyName}' ends with '@' but names no cluster.");
            }
        }

        if (!ClusterView.LabelSelector.TryParse(body, out var selector, out var error))
        {
            throw new InvalidOperationException($"The authorization policy '{policyName}' has a label selector that does not parse: {error}.");
        }

        return new KubernetesLabelSelectorRequirement(target.Value, selector, cluster);
    }

    /// <summary>Parses a policy name; <see langword="null"/> when it is not one of ours or is malformed.</summary>
    internal static KubernetesServiceAccountRequirement? TryParse(string policyName)
    {
        string? cluster = null;
        var body = policyName;
        var at = policyName.LastIndexOf('@');
        if (at >= 0)
        {
            cluster = policyName[(at + 1)..];
            body = policyName[..at];
            if (cluster.Length == 0)
            {
                return null;
            }
        }

        if (body.StartsWith(NamespacePrefix, StringComparison.Ordinal))
        {
            var ns = body[NamespacePrefix.Length..];
            return IsNamespacePattern(ns) ? new KubernetesServiceAccountRequirement(ns, cluster: cluster) : null;
        }

        if (body.StartsWith(ServiceAccountPrefix, StringComparison.Ordinal))
        {
            var parts = body[ServiceAccountPrefix.Length..].Split(':');
            return parts.Length == 2 && IsName(parts[0]) && IsName(parts[1])
                ? new KubernetesServiceAccountRequirement(parts[0], parts[1], cluster)
                : null;
        }

        return null;
    }

    private static bool IsNamespacePattern(string value) =>
        value == "*" || (value.EndsWith('*') ? IsName(value[..^1]) : IsName(value));

    private static bool IsName(string value) =>
        value.Length > 0 && !value.Contains(':', StringComparison.Ordinal) && !value.Contains('*', StringComparison.Ordinal);
}
