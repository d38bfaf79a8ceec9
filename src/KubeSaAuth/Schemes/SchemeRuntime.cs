// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Frozen;
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

/// <summary>
/// The long-lived machinery of one scheme, built once on first use: its clusters, the frozen map from every
/// issuer they name to the one cluster that judges it, and the validation cache they share (each entry
/// remembers its cluster, so a hit needs no routing).
/// </summary>
internal sealed class SchemeRuntime
{
    public SchemeRuntime(IReadOnlyList<ClusterRuntime> clusters, ValidationCache? cache)
    {
        Clusters = [.. clusters];
        Cache = cache;
        ByIssuer = clusters
            .SelectMany(c => c.Issuers.Select(i => (Issuer: i, Cluster: c)))
            .ToFrozenDictionary(p => p.Issuer, p => p.Cluster, StringComparer.Ordinal);
        DiscoveryOnly = [.. clusters.Where(c => string.IsNullOrWhiteSpace(c.Options.Issuer))];
        ByName = clusters.ToFrozenDictionary(c => c.Name, c => c, StringComparer.Ordinal);
    }

    /// <summary>The clusters, the scheme's own first (when it has one).</summary>
    public ClusterRuntime[] Clusters { get; }

    /// <summary>Every configured issuer (<c>Issuer</c>, <c>AdditionalIssuers</c>) of every cluster, to its cluster.</summary>
    public FrozenDictionary<string, ClusterRuntime> ByIssuer { get; }

    /// <summary>The clusters that learn their issuer from discovery only (no <c>Issuer</c> set).</summary>
    public ClusterRuntime[] DiscoveryOnly { get; }

    /// <summary>The clusters by name (their <c>Cluster</c> claim).</summary>
    public FrozenDictionary<string, ClusterRuntime> ByName { get; }

    /// <summary>The scheme's first cluster (its only one without <c>Clusters</c>).</summary>
    public ClusterRuntime Primary => Clusters[0];

    /// <summary>The first cluster's key source (the scheme's, without <c>Clusters</c>).</summary>
    public SigningKeySource Keys => Primary.Keys;

    /// <summary>The first cluster's validator.</summary>
    public KubernetesTokenValidator Validator => Primary.Validator;

    /// <summary>The validation cache every cluster of the scheme shares.</summary>
    public ValidationCache? Cache { get; }

    /// <summary>The first cluster's view of Pods, ServiceAccounts and Namespaces (<c>ClusterView:Enabled</c>).</summary>
    public KubernetesClusterView? View => Primary.View;

    /// <summary>The first cluster's TokenReview reviewer (replaceable by tests).</summary>
    public ITokenReviewer? Reviewer
    {
        get => Primary.Reviewer;
        set => Primary.Reviewer = value;
    }
}

/// <summary>
/// One cluster of a scheme: its effective options, key source, validator, TokenReview reviewer and cluster view. A token
/// whose <c>iss</c> names the cluster is judged by these alone, so one cluster's outage costs the others nothing.
/// </summary>
internal sealed class ClusterRuntime(string name, string scheme, KubernetesServiceAccountOptions options, SigningKeySource keys, KubernetesTokenValidator validator, ITokenReviewer? reviewer, KubernetesClusterView? view = null)
    : ITrustEpochSource
{
    /// <summary>The cluster's name: its <c>Cluster</c> claim, its <c>cluster</c> tag in logs and metrics.</summary>
    public string Name { get; } = name;

    /// <summary>The scheme the cluster belongs to.</summary>
    public string Scheme { get; } = scheme;

    /// <summary>The effective options (scheme-level values, then the cluster's own).</summary>
    public KubernetesServiceAccountOptions Options { get; } = options;

    /// <summary>The issuers configured for the cluster (<c>Issuer</c>, then <c>AdditionalIssuers</c>); empty when only discovery names it.</summary>
    public IReadOnlyList<string> Issuers { get; } = string.IsNullOrWhiteSpace(options.Issuer)
        ? [.. options.AdditionalIssuers]
        : [options.Issuer, .. options.AdditionalIssuers.Where(i => i != options.Issuer)];

    public SigningKeySource Keys { get; } = keys;

    public KubernetesTokenValidator Validator { get; } = validator;

    public ITokenReviewer? Reviewer { get; set; } = reviewer;

    /// <summary>The trust epoch of the keys in hand, which cached validations of this cluster must match.</summary>
    public long? CurrentTrustEpoch => Keys.Current?.TrustEpoch;

    /// <summary>The cluster's live view of Namespaces, Pods and ServiceAccounts, when <c>ClusterView:Enabled</c>.</summary>
    public KubernetesClusterView? View { get; } = view;
}
