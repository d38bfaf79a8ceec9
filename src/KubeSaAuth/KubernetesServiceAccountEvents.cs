// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth;

/// <summary>
/// The events of the Kubernetes service-account handler, in the order of <c>JwtBearerEvents</c>:
/// MessageReceived, then TokenValidated or AuthenticationFailed, then Challenge or Forbidden.
/// </summary>
public class KubernetesServiceAccountEvents
{
    /// <summary>Invoked first; may supply the token from elsewhere or decide the result.</summary>
    public Func<KubernetesMessageReceivedContext, Task> OnMessageReceived { get; set; } = _ => Task.CompletedTask;

    /// <summary>Invoked after a token passed every check; may add claims or reject the caller.</summary>
    public Func<KubernetesTokenValidatedContext, Task> OnTokenValidated { get; set; } = _ => Task.CompletedTask;

    /// <summary>Invoked when a token was refused, with the reason.</summary>
    public Func<KubernetesAuthenticationFailedContext, Task> OnAuthenticationFailed { get; set; } = _ => Task.CompletedTask;

    /// <summary>Invoked before a 401 challenge is written; call <c>HandleResponse()</c> to write your own.</summary>
    public Func<KubernetesChallengeContext, Task> OnChallenge { get; set; } = _ => Task.CompletedTask;

    /// <summary>Invoked before a 403 is written.</summary>
    public Func<KubernetesForbiddenContext, Task> OnForbidden { get; set; } = _ => Task.CompletedTask;

    /// <summary>Invokes <see cref="OnMessageReceived"/>.</summary>
    /// <param name="context">The context.</param>
    /// <returns>The task.</returns>
    public virtual Task MessageReceived(KubernetesMessageReceivedContext context) => OnMessageReceived(context);

    /// <summary>Invokes <see cref="OnTokenValidated"/>.</summary>
    /// <param name="context">The context.</param>
    /// <returns>The task.</returns>
    public virtual Task TokenValidated(KubernetesTokenValidatedContext context) => OnTokenValidated(context);

    /// <summary>Invokes <see cref="OnAuthenticationFailed"/>.</summary>
    /// <param name="context">The context.</param>
    /// <returns>The task.</returns>
    public virtual Task AuthenticationFailed(KubernetesAuthenticationFailedContext context) => OnAuthenticationFailed(context);

    /// <summary>Invokes <see cref="OnChallenge"/>.</summary>
    /// <param name="context">The context.</param>
    /// <returns>The task.</returns>
    public virtual Task Challenge(KubernetesChallengeContext context) => OnChallenge(context);

    /// <summary>Invokes <see cref="OnForbidden"/>.</summary>
    /// <param name="context">The context.</param>
    /// <returns>The task.</returns>
    public virtual Task Forbidden(KubernetesForbiddenContext context) => OnForbidden(context);
}
