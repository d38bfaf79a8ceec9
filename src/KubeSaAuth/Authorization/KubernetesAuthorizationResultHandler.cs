// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;

namespace KubeSaAuth.Authorization;

/// <summary>
/// ASP.NET Core's <see cref="AuthorizationMiddlewareResultHandler"/>, over the policy with the Kubernetes
/// schemes it needs: the challenge (401) and the forbid (403) go to those schemes, never to a default scheme
/// that may not exist.
/// </summary>
internal sealed class KubernetesAuthorizationResultHandler(KubernetesPolicySchemes schemes) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _inner = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        ArgumentNullException.ThrowIfNull(context);
        var resolved = await schemes.ResolveAsync(policy).ConfigureAwait(false);
        if (authorizeResult.Challenged)
        {
            // A policy of some clusters ('@cluster') authenticated with their schemes only, so that another
            // cluster's trouble never reaches its callers. A caller it left unauthenticated may still be a
            // valid service account of another cluster: judged now, on this failure path only, by the
            // scheme its token names (the others answer NoResult at once). Valid => 403, as for any unmet
            // policy; otherwise the one challenge carries that scheme's reason.
            foreach (var other in await schemes.OutsideAsync(resolved).ConfigureAwait(false))
            {
                var result = await context.AuthenticateAsync(other).ConfigureAwait(false);
                if (result.Succeeded)
                {
                    context.User = result.Principal;
                    authorizeResult = PolicyAuthorizationResult.Forbid();
                    break;
                }
            }
        }

        if (authorizeResult.Forbidden && authorizeResult.AuthorizationFailure is { } failure)
        {
            // For the 403 the schemes log and count: which kind of policy refused (namespace, serviceaccount, ...).
            Schemes.KubernetesRequestState.Get(context).FailedRequirements = failure.FailedRequirements;
        }

        await _inner.HandleAsync(next, context, resolved, authorizeResult).ConfigureAwait(false);
    }
}
