// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;

namespace KubeSaAuth;

/// <summary>The context of <see cref="KubernetesServiceAccountEvents.OnChallenge"/>.</summary>
/// <param name="context">The HTTP context.</param>
/// <param name="scheme">The authentication scheme.</param>
/// <param name="options">The handler options.</param>
/// <param name="properties">The authentication properties.</param>
public class KubernetesChallengeContext(HttpContext context, AuthenticationScheme scheme, KubernetesServiceAccountOptions options, AuthenticationProperties properties)
    : PropertiesContext<KubernetesServiceAccountOptions>(context, scheme, options, properties)
{
    /// <summary>Why authentication failed, if it did.</summary>
    public Exception? AuthenticateFailure { get; set; }

    /// <summary>The RFC 6750 <c>error</c> (e.g. <c>invalid_token</c>); <see langword="null"/> when no token was sent.</summary>
    public string? Error { get; set; }

    /// <summary>The RFC 6750 <c>error_description</c>.</summary>
    public string? ErrorDescription { get; set; }

    /// <summary>Whether the event wrote the response itself.</summary>
    public bool Handled { get; private set; }

    /// <summary>Skips the handler's own challenge; the event has written the response.</summary>
    public void HandleResponse() => Handled = true;
}
