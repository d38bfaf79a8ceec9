// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.TokenReview;
using Microsoft.AspNetCore.Authorization;

namespace KubeSaAuth.Authorization;

/// <summary>
/// Requires the <c>kubernetes:live</c> policy: the API server reviews the caller's token on this request
/// (TokenReview, bypassing its cache), so a token whose Pod was deleted is refused at once. Needs
/// <c>TokenReview:Enabled</c>; without it, access is denied.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class KubernetesLiveTokenReviewAttribute : AuthorizeAttribute
{
    /// <summary>The policy name: <c>kubernetes:live</c>.</summary>
    public const string PolicyName = KubernetesLiveTokenReview.PolicyName;

    /// <summary>Creates the attribute.</summary>
    public KubernetesLiveTokenReviewAttribute()
        : base(PolicyName)
    {
    }
}
