// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Caching;
using KubeSaAuth.ClusterView;
using KubeSaAuth.Keys;
using KubeSaAuth.Tokens;

namespace KubeSaAuth.Schemes;

/// <summary>
/// A second opinion asked after local validation succeeded (TokenReview). Returns <see langword="null"/>
/// to accept, or the failure.
/// </summary>
internal interface ITokenReviewer
{
    ValueTask<TokenFailure?> ReviewAsync(string token, KubernetesServiceAccount serviceAccount, bool forceFresh, CancellationToken cancellationToken);
}

/// <summary>The long-lived machinery of one scheme, built once by post-configuration.</summary>
internal sealed class SchemeRuntime(SigningKeySource keys, KubernetesTokenValidator validator, ValidationCache? cache, ITokenReviewer? reviewer, KubernetesClusterView? view = null)
{
    public SigningKeySource Keys { get; } = keys;

    public KubernetesTokenValidator Validator { get; } = validator;

    public ValidationCache? Cache { get; } = cache;

    public ITokenReviewer? Reviewer { get; set; } = reviewer;

    /// <summary>The cluster's live view of Namespaces, Pods and ServiceAccounts, when <c>ClusterView:Enabled</c>.</summary>
    public KubernetesClusterView? View { get; } = view;
}
