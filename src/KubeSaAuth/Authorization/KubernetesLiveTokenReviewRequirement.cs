// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Diagnostics;
using KubeSaAuth.Schemes;
using KubeSaAuth.TokenReview;
using KubeSaAuth.Tokens;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Authorization;

/// <summary>
/// Satisfied when a Kubernetes identity's token was reviewed by the API server during this request. The
/// handler normally did it already (the endpoint asked for <c>kubernetes:live</c>); otherwise — the policy
/// evaluated outside endpoint routing — the review is made here.
/// </summary>
internal sealed class KubernetesLiveTokenReviewRequirement : AuthorizationHandler<KubernetesLiveTokenReviewRequirement>, IAuthorizationRequirement
{
    private const string BearerPrefix = "Bearer ";

    protected override async Task HandleRequirementAsync(AuthorizationHandlerContext context, KubernetesLiveTokenReviewRequirement requirement)
    {
        var httpContext = context.Resource as HttpContext;
        var sawKubernetesIdentity = false;
        foreach (var identity in context.User.Identities)
        {
            if (identity is not KubernetesClaimsIdentity { IsAuthenticated: true } kubernetes || kubernetes.Scheme is not { } scheme)
            {
                continue;
            }

            sawKubernetesIdentity = true;
            if (httpContext is null)
            {
                break;
            }

            if (KubernetesLiveTokenReview.WasReviewed(httpContext, scheme))
            {
                context.Succeed(requirement);
                return;
            }

            var services = httpContext.RequestServices;
            var options = services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(scheme);
            var runtime = services.GetRequiredService<SchemeRuntimeFactory>().GetOrCreate(scheme, options);
            var reviewer = (runtime.ByName.TryGetValue(kubernetes.ServiceAccount.Cluster, out var cluster) ? cluster : runtime.Primary).Reviewer;
            var header = httpContext.Request.Headers.Authorization.ToString();
            if (reviewer is null || !header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var failure = await reviewer.ReviewAsync(header[BearerPrefix.Length..].Trim(), kubernetes.ServiceAccount, forceFresh: true, httpContext.RequestAborted).ConfigureAwait(false);
            if (failure is null)
            {
                KubernetesLiveTokenReview.MarkReviewed(httpContext, scheme);
                context.Succeed(requirement);
            }
            else
            {
                context.Fail(new AuthorizationFailureReason(this, failure.Description));
            }

            return;
        }

        if (!sawKubernetesIdentity)
        {
            return;
        }

        var logger = httpContext?.RequestServices.GetService<ILoggerFactory>()?.CreateLogger(typeof(KubernetesServiceAccountHandler).FullName!);
        if (logger is not null)
        {
            Log.LiveTokenReviewUnavailable(logger, KubernetesLiveTokenReview.PolicyName);
        }
    }

    public override string ToString() => "Kubernetes token reviewed by the API server on this request";
}
