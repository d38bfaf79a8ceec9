// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Authorization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;

namespace KubeSaAuth.TokenReview;

/// <summary>
/// The <c>kubernetes:live</c> policy: the caller's token is reviewed by the API server for this request,
/// not answered from the TokenReview cache — for endpoints where a Pod deleted seconds ago must not pass.
/// </summary>
internal static class KubernetesLiveTokenReview
{
    public const string PolicyName = "kubernetes:live";

    private const string ReviewedItem = "KubeSaAuth.LiveTokenReviewed";

    /// <summary>Whether the endpoint asks for a live review (the policy name or <see cref="KubernetesLiveTokenReviewAttribute"/>), so authentication skips the cache.</summary>
    public static bool IsRequired(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint is null)
        {
            return false;
        }

        foreach (var data in endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>())
        {
            if (string.Equals(data.Policy, PolicyName, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Records that the handler asked the API server during this request.</summary>
    public static void MarkReviewed(HttpContext context, string scheme) => context.Items[ReviewedItem + ":" + scheme] = true;

    public static bool WasReviewed(HttpContext context, string scheme) => context.Items.ContainsKey(ReviewedItem + ":" + scheme);
}
