// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;

namespace KubeSaAuth.Authorization;

/// <summary>
/// ASP.NET Core's <see cref="PolicyEvaluator"/>, over the policy with the Kubernetes schemes it needs
/// (<see cref="KubernetesPolicySchemes"/>): a builder-helper policy authenticates with the Kubernetes
/// schemes whether or not the application has a default scheme.
/// </summary>
internal sealed class KubernetesPolicyEvaluator(IAuthorizationService authorization, KubernetesPolicySchemes schemes) : IPolicyEvaluator
{
    private readonly PolicyEvaluator _inner = new(authorization);

    public async Task<AuthenticateResult> AuthenticateAsync(AuthorizationPolicy policy, HttpContext context) =>
        await _inner.AuthenticateAsync(await schemes.ResolveAsync(policy).ConfigureAwait(false), context).ConfigureAwait(false);

    public async Task<PolicyAuthorizationResult> AuthorizeAsync(AuthorizationPolicy policy, AuthenticateResult authenticationResult, HttpContext context, object? resource) =>
        await _inner.AuthorizeAsync(await schemes.ResolveAsync(policy).ConfigureAwait(false), authenticationResult, context, resource).ConfigureAwait(false);
}
