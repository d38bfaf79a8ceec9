// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;

namespace KubeSaAuth;

/// <summary>The context of <see cref="KubernetesServiceAccountEvents.OnTokenValidated"/>; <c>Principal</c> is fresh for this request.</summary>
/// <param name="context">The HTTP context.</param>
/// <param name="scheme">The authentication scheme.</param>
/// <param name="options">The handler options.</param>
/// <param name="serviceAccount">The caller the token identifies.</param>
public class KubernetesTokenValidatedContext(HttpContext context, AuthenticationScheme scheme, KubernetesServiceAccountOptions options, KubernetesServiceAccount serviceAccount)
    : ResultContext<KubernetesServiceAccountOptions>(context, scheme, options)
{
    /// <summary>The caller the token identifies.</summary>
    public KubernetesServiceAccount ServiceAccount { get; } = serviceAccount;
}
