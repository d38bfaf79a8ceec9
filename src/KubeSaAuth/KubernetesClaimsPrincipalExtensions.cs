// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Claims;
using KubeSaAuth.Tokens;

namespace KubeSaAuth;

/// <summary>Reads the Kubernetes caller from a <see cref="ClaimsPrincipal"/>.</summary>
public static class KubernetesClaimsPrincipalExtensions
{
    /// <summary>
    /// The service account that authenticated this principal through a Kubernetes service-account scheme,
    /// or <see langword="null"/> when none did.
    /// </summary>
    /// <param name="principal">The principal.</param>
    /// <returns>The caller, or <see langword="null"/>.</returns>
    public static KubernetesServiceAccount? GetKubernetesServiceAccount(this ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return FindKubernetesIdentity(principal)?.ServiceAccount;
    }

    /// <summary>The first authenticated identity issued by a Kubernetes scheme, without allocating an enumerator.</summary>
    internal static KubernetesClaimsIdentity? FindKubernetesIdentity(ClaimsPrincipal principal)
    {
        // ClaimsPrincipal keeps its identities in a List: index it rather than box its enumerator.
        if (principal.Identities is IReadOnlyList<ClaimsIdentity> identities)
        {
            for (var i = 0; i < identities.Count; i++)
            {
                if (identities[i] is KubernetesClaimsIdentity { IsAuthenticated: true } kubernetes)
                {
                    return kubernetes;
                }
            }

            return null;
        }

        foreach (var identity in principal.Identities)
        {
            if (identity is KubernetesClaimsIdentity { IsAuthenticated: true } kubernetes)
            {
                return kubernetes;
            }
        }

        return null;
    }

    /// <summary>The service accounts of every Kubernetes scheme that authenticated this principal (several clusters).</summary>
    /// <param name="principal">The principal.</param>
    /// <returns>The callers, one per authenticating cluster.</returns>
    public static IEnumerable<KubernetesServiceAccount> GetKubernetesServiceAccounts(this ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return principal.Identities.OfType<KubernetesClaimsIdentity>().Where(i => i.IsAuthenticated).Select(i => i.ServiceAccount);
    }
}
