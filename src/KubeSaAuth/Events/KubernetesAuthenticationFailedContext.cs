// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;

namespace KubeSaAuth;

/// <summary>The context of <see cref="KubernetesServiceAccountEvents.OnAuthenticationFailed"/>.</summary>
/// <param name="context">The HTTP context.</param>
/// <param name="scheme">The authentication scheme.</param>
/// <param name="options">The handler options.</param>
/// <param name="exception">Why the token was refused.</param>
public class KubernetesAuthenticationFailedContext(HttpContext context, AuthenticationScheme scheme, KubernetesServiceAccountOptions options, KubernetesTokenException exception)
    : ResultContext<KubernetesServiceAccountOptions>(context, scheme, options)
{
    /// <summary>Why the token was refused; <see cref="KubernetesTokenException.Reason"/> is the machine-readable reason.</summary>
    public KubernetesTokenException Exception { get; set; } = exception;
}
