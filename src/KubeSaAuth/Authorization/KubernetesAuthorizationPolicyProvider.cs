// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Authorization;

/// <summary>
/// Policies by name, without registration (aspnetcore samples/CustomPolicyProvider): <c>namespace:&lt;ns&gt;</c>,
/// <c>namespace:&lt;prefix&gt;*</c>, <c>serviceaccount:&lt;ns&gt;:&lt;name&gt;</c>, each optionally followed by
/// <c>@&lt;cluster&gt;</c> (Kubernetes names never contain '@'). Policies the application registered
/// win: the default provider is asked first. The policies authenticate with every Kubernetes scheme.
/// </summary>
internal sealed class KubernetesAuthorizationPolicyProvider(IOptions<AuthorizationOptions> options, IAuthenticationSchemeProvider schemes)
    : DefaultAuthorizationPolicyProvider(options)
{
    internal const string NamespacePrefix = "namespace:";
    internal const string ServiceAccountPrefix = "serviceaccount:";

    private readonly ConcurrentDictionary<string, AuthorizationPolicy?> _policies = new(StringComparer.Ordinal);

    public override async Task<AuthorizationPolicy?> GetPolicyAsync(string policyName)
    {
        var registered = await base.GetPolicyAsync(policyName).ConfigureAwait(false);
        if (registered is not null)
        {
            return registered;
        }

        if (_policies.TryGetValue(policyName, out var cached))
        {
            return cached;
        }

        IAuthorizationRequirement? requirement = string.Equals(policyName, KubernetesLiveTokenReview.PolicyName, StringComparison.Ordinal)
            ? new KubernetesLiveTokenReviewRequirement()
            : TryParse(policyName);
        AuthorizationPolicy? policy = null;
        if (requirement is not null)
        {
            var kubernetesSchemes = (await schemes.GetAllSchemesAsync().ConfigureAwait(false))
                .Where(s => s.HandlerType == typeof(KubernetesServiceAccountHandler))
                .Select(s => s.Name)
                .ToArray();
            policy = new AuthorizationPolicyBuilder(kubernetesSchemes)
                .RequireAuthenticatedUser()
                .AddRequirements(requirement)
                .Build();
        }

        // Unknown names are remembered too (bounded: names come from code, not from requests).
        return _policies.GetOrAdd(policyName, policy);
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
