// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Authorization;

/// <summary>
/// Which Kubernetes schemes a policy authenticates with. A policy that names no scheme but holds a
/// Kubernetes requirement (the builder helpers make those) would otherwise authenticate with the default
/// scheme — and, without one, fail with a 500 ("No authenticationScheme was specified") on its challenge.
/// Here it gets the schemes of the clusters it names (<c>ClusterName</c>, default the scheme name), or
/// every Kubernetes scheme when it names none. Any other policy that names no scheme (plain <c>[Authorize]</c>,
/// <c>RequireAuthorization()</c>, <c>[Authorize(Roles = ...)]</c>) authenticates with every Kubernetes scheme when
/// the application has no default scheme, or when its default is a Kubernetes scheme: with several clusters, a
/// caller of any of them is who it is, and there is no default to fall back to (500). A policy that names its
/// schemes, or that a non-Kubernetes default scheme serves, is left as it is.
/// </summary>
internal sealed class KubernetesPolicySchemes(IAuthenticationSchemeProvider schemes, IOptionsMonitor<KubernetesServiceAccountOptions> options)
{
    // Policies are few and long-lived (the authorization middleware caches each endpoint's combined policy).
    private readonly ConditionalWeakTable<AuthorizationPolicy, AuthorizationPolicy> _resolved = [];
    private volatile (string Scheme, string Cluster)[]? _kubernetes;
    private volatile string[]? _forPlainPolicies;

    /// <summary>The Kubernetes schemes of <paramref name="cluster"/>, or all of them when it is <see langword="null"/> (or names no registered cluster).</summary>
    public async ValueTask<string[]> ForClusterAsync(string? cluster)
    {
        var all = await GetKubernetesAsync().ConfigureAwait(false);
        return Select(all, cluster is null ? null : new HashSet<string>(StringComparer.Ordinal) { cluster });
    }

    /// <summary><paramref name="policy"/>, or the same requirements with the Kubernetes schemes they need.</summary>
    public async ValueTask<AuthorizationPolicy> ResolveAsync(AuthorizationPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (policy.AuthenticationSchemes.Count > 0)
        {
            return policy;
        }

        if (_resolved.TryGetValue(policy, out var resolved))
        {
            return resolved;
        }

        resolved = policy;
        if (Clusters(policy, out var clusters))
        {
            var schemeNames = Select(await GetKubernetesAsync().ConfigureAwait(false), clusters);
            if (schemeNames.Length > 0)
            {
                resolved = new AuthorizationPolicy(policy.Requirements, schemeNames);
            }
        }
        else if (await ForPlainPoliciesAsync().ConfigureAwait(false) is { Length: > 0 } kubernetes)
        {
            resolved = new AuthorizationPolicy(policy.Requirements, kubernetes);
        }

        // Also remembered when unchanged, so that a policy of other requirements is scanned once.
        return _resolved.GetValue(policy, _ => resolved);
    }

    /// <summary>
    /// The Kubernetes schemes that a Kubernetes policy authenticating with Kubernetes schemes only leaves out
    /// (an <c>@cluster</c> policy); empty for every other policy.
    /// </summary>
    public async ValueTask<string[]> OutsideAsync(AuthorizationPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (policy.AuthenticationSchemes.Count == 0 || !Clusters(policy, out _))
        {
            return [];
        }

        var all = await GetKubernetesAsync().ConfigureAwait(false);
        if (!policy.AuthenticationSchemes.All(s => all.Any(k => string.Equals(k.Scheme, s, StringComparison.Ordinal))))
        {
            return [];
        }

        return [.. all.Select(k => k.Scheme).Distinct().Where(s => !policy.AuthenticationSchemes.Contains(s, StringComparer.Ordinal))];
    }

    /// <summary>
    /// Whether <paramref name="policy"/> holds a Kubernetes requirement, and the clusters a caller must be of
    /// to meet all of them (<see langword="null"/>: any cluster). Requirements all hold, so pinned sets intersect.
    /// </summary>
    internal static bool Clusters(AuthorizationPolicy policy, out HashSet<string>? clusters)
    {
        clusters = null;
        var found = false;
        foreach (var requirement in policy.Requirements)
        {
            HashSet<string>? pinned;
            switch (requirement)
            {
                case KubernetesServiceAccountRequirement single:
                    pinned = single.Cluster is null ? null : new HashSet<string>(StringComparer.Ordinal) { single.Cluster };
                    break;
                case KubernetesAnyOfRequirement anyOf:
                    // Any alternative may be met: pinned only when every alternative pins a cluster.
                    pinned = anyOf.Alternatives.All(a => a.Cluster is not null)
                        ? new HashSet<string>(anyOf.Alternatives.Select(a => a.Cluster!), StringComparer.Ordinal)
                        : null;
                    break;
                case KubernetesLabelSelectorRequirement labels:
                    pinned = labels.Cluster is null ? null : new HashSet<string>(StringComparer.Ordinal) { labels.Cluster };
                    break;
                case KubernetesLiveTokenReviewRequirement:
                    pinned = null;
                    break;
                default:
                    continue;
            }

            found = true;
            if (pinned is not null)
            {
                if (clusters is null)
                {
                    clusters = pinned;
                }
                else
                {
                    clusters.IntersectWith(pinned);
                }
            }
        }

        return found;
    }

    private static string[] Select((string Scheme, string Cluster)[] all, HashSet<string>? clusters)
    {
        if (clusters is not null)
        {
            var matching = all.Where(k => clusters.Contains(k.Cluster)).Select(k => k.Scheme).Distinct().ToArray();
            if (matching.Length > 0)
            {
                return matching;
            }

            // No registered cluster of that name (or clusters that cannot all hold): every Kubernetes scheme
            // authenticates, and the requirement refuses the caller (403), rather than the policy falling
            // back to a default scheme that may not exist (500).
        }

        return [.. all.Select(k => k.Scheme).Distinct()];
    }

    private async ValueTask<(string Scheme, string Cluster)[]> GetKubernetesAsync()
    {
        if (_kubernetes is { } known)
        {
            return known;
        }

        var registered = await schemes.GetAllSchemesAsync().ConfigureAwait(false);
        var kubernetes = registered
            .Where(s => s.HandlerType == typeof(KubernetesServiceAccountHandler))
            .SelectMany(s => ClustersOf(s.Name).Select(cluster => (s.Name, cluster)))
            .ToArray();
        _kubernetes = kubernetes;
        return kubernetes;
    }

    /// <summary>
    /// The schemes a policy naming none authenticates with: every Kubernetes scheme when there is no default
    /// scheme or the default is a Kubernetes one; else none (the default scheme serves it, as ASP.NET Core does).
    /// </summary>
    private async ValueTask<string[]> ForPlainPoliciesAsync()
    {
        if (_forPlainPolicies is { } known)
        {
            return known;
        }

        var all = await GetKubernetesAsync().ConfigureAwait(false);
        var defaultScheme = await schemes.GetDefaultAuthenticateSchemeAsync().ConfigureAwait(false);
        string[] forPlain = defaultScheme is null || defaultScheme.HandlerType == typeof(KubernetesServiceAccountHandler)
            ? [.. all.Select(k => k.Scheme).Distinct()]
            : [];
        _forPlainPolicies = forPlain;
        return forPlain;
    }

    private IEnumerable<string> ClustersOf(string scheme)
    {
        // As the validator names the identity's cluster (ClusterName, default the scheme name; or each of Clusters).
        try
        {
            return options.Get(scheme).GetClusters(scheme).Select(c => c.Name);
        }
        catch (InvalidOperationException)
        {
            // Misconfigured: its own handler reports it; named by the scheme here.
            return [scheme];
        }
    }
}
