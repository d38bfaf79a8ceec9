// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;

namespace KubeSaAuth;

/// <summary>The context of <see cref="KubernetesServiceAccountEvents.OnMessageReceived"/>.</summary>
/// <param name="context">The HTTP context.</param>
/// <param name="scheme">The authentication scheme.</param>
/// <param name="options">The handler options.</param>
public class KubernetesMessageReceivedContext(HttpContext context, AuthenticationScheme scheme, KubernetesServiceAccountOptions options)
    : ResultContext<KubernetesServiceAccountOptions>(context, scheme, options)
{
    /// <summary>The token to validate; when set, the <c>Authorization</c> header is not read.</summary>
    public string? Token { get; set; }
}
