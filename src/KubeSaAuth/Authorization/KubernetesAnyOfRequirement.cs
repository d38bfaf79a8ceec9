// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Tokens;
using Microsoft.AspNetCore.Authorization;

namespace KubeSaAuth.Authorization;

/// <summary>Satisfied when any one of several Kubernetes requirements is.</summary>
internal sealed class KubernetesAnyOfRequirement(IReadOnlyList<KubernetesServiceAccountRequirement> alternatives)
    : AuthorizationHandler<KubernetesAnyOfRequirement>, IAuthorizationRequirement
{
    public IReadOnlyList<KubernetesServiceAccountRequirement> Alternatives { get; } = alternatives;

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, KubernetesAnyOfRequirement requirement)
    {
        foreach (var identity in context.User.Identities)
        {
            if (identity is KubernetesClaimsIdentity { IsAuthenticated: true } kubernetes && requirement.Alternatives.Any(a => a.IsSatisfiedBy(kubernetes.ServiceAccount)))
            {
                context.Succeed(requirement);
                break;
            }
        }

        return Task.CompletedTask;
    }

    public override string ToString() => string.Join(" or ", Alternatives);
}
