// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Claims;
using KubeSaAuth.Tokens;
using Microsoft.AspNetCore.Authorization;

namespace KubeSaAuth.Authorization;

/// <summary>A requirement met by the service account of one authenticated Kubernetes identity.</summary>
internal interface IKubernetesIdentityRequirement : IAuthorizationRequirement
{
    bool IsSatisfiedBy(KubernetesServiceAccount serviceAccount);
}

/// <summary>The one loop over the principal's identities that every Kubernetes requirement shares.</summary>
internal static class KubernetesIdentityRequirement
{
    /// <summary>
    /// Succeeds <paramref name="requirement"/> when any authenticated Kubernetes identity satisfies it: several
    /// Kubernetes schemes (clusters) may have authenticated. Generic, so the call allocates nothing; the
    /// identities are indexed when they are a list (no enumerator on the request path).
    /// </summary>
    public static void Handle<TRequirement>(AuthorizationHandlerContext context, TRequirement requirement)
        where TRequirement : IKubernetesIdentityRequirement
    {
        if (context.User.Identities is IReadOnlyList<ClaimsIdentity> identities)
        {
            for (var i = 0; i < identities.Count; i++)
            {
                if (identities[i] is KubernetesClaimsIdentity { IsAuthenticated: true } kubernetes && requirement.IsSatisfiedBy(kubernetes.ServiceAccount))
                {
                    context.Succeed(requirement);
                    return;
                }
            }

            return;
        }

        foreach (var identity in context.User.Identities)
        {
            if (identity is KubernetesClaimsIdentity { IsAuthenticated: true } kubernetes && requirement.IsSatisfiedBy(kubernetes.ServiceAccount))
            {
                context.Succeed(requirement);
                return;
            }
        }
    }
}
