// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Caching;
using KubeSaAuth.Schemes;
using Microsoft.AspNetCore.Authentication;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth;

/// <summary>Options of the Kubernetes service-account authentication handler.</summary>
/// <remarks>
/// Bound from configuration section <c>Authentication:Schemes:{scheme}</c>. The defaults are the secure
/// ones: HTTPS metadata required, legacy tokens refused, at least one audience required. The options of
/// the cluster itself (issuers, keys, backchannel, TokenReview) are documented on
/// <see cref="KubernetesClusterOptions"/>; the properties here of the same names set them.
/// </remarks>
public class KubernetesServiceAccountOptions : AuthenticationSchemeOptions
{
    /// <summary>Creates options with the secure defaults.</summary>
    public KubernetesServiceAccountOptions()
    {
        Events = new KubernetesServiceAccountEvents();
    }

    /// <summary>
    /// The audiences this service accepts; a token must name at least one of them in <c>aud</c> (exact,
    /// case-sensitive match). Use the audience of the projected token your callers mount.
    /// </summary>
    /// <value>Default empty; at least one is required. Holds each value once: configuration's values, then those code adds.</value>
    public ICollection<string> Audiences { get; } = new DistinctStringCollection();

    /// <summary>
    /// Whether legacy (secret-based) tokens are accepted. They never expire, name no audience, and can be
    /// replayed against the API server by anyone who receives them.
    /// </summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool AcceptLegacyTokens { get; set; }

    /// <summary>The tolerance applied to <c>exp</c>, <c>nbf</c>, <c>iat</c> and <c>warnafter</c>.</summary>
    /// <value>Default 60 seconds, as the Kubernetes API server.</value>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Tokens longer than this many characters are refused before any parsing.</summary>
    /// <value>Default 16384 (16 KiB); real service-account tokens are about 1 KiB.</value>
    public int MaxTokenSize { get; set; } = 16 * 1024;

    /// <summary>Whether the <c>WWW-Authenticate</c> challenge carries <c>error</c> and <c>error_description</c>.</summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool IncludeErrorDetails { get; set; } = true;

    /// <summary>
    /// Whether a token past its <c>kubernetes.io.warnafter</c> time (plus <see cref="ClockSkew"/>) is refused
    /// as expired. Auto-mounted tokens may be extended to a year; <c>warnafter</c> marks when they would
    /// have expired, and a Pod whose kubelet works never presents one past it.
    /// </summary>
    /// <value>Default <see langword="true"/>; <see langword="false"/> only logs a warning.</value>
    public bool EnforceWarnAfter { get; set; } = true;

    /// <summary>
    /// Whether the token is stored in the <see cref="AuthenticationProperties"/> of a successful authentication,
    /// as JwtBearer's <c>SaveToken</c>: then <c>await HttpContext.GetTokenAsync("access_token")</c> returns it
    /// (for example to forward it). Off, no copy of the token is kept, and a cached token costs no allocation.
    /// </summary>
    /// <value>Default <see langword="false"/>, as JwtBearer.</value>
    public bool SaveToken { get; set; }

    /// <summary>
    /// The claim type that <c>User.Identity.Name</c> reads, as JwtBearer's <c>TokenValidationParameters.NameClaimType</c>:
    /// for example <see cref="KubernetesClaimTypes.ServiceAccountName"/> for the service account's own name. The claims
    /// themselves do not change.
    /// </summary>
    /// <value>Default <see cref="System.Security.Claims.ClaimTypes.Name"/>: the Kubernetes username, <c>system:serviceaccount:&lt;namespace&gt;:&lt;name&gt;</c>.</value>
    public string NameClaimType { get; set; } = System.Security.Claims.ClaimTypes.Name;

    /// <summary>
    /// The claim type that <c>User.IsInRole</c> and <c>[Authorize(Roles = ...)]</c> read, as JwtBearer's
    /// <c>TokenValidationParameters.RoleClaimType</c>: for example <see cref="KubernetesClaimTypes.Namespace"/> makes
    /// <c>[Authorize(Roles = "team-a")]</c> admit the service accounts of namespace <c>team-a</c>. The claims themselves
    /// do not change.
    /// </summary>
    /// <value>
    /// Default <see cref="System.Security.Claims.ClaimTypes.Role"/>: the groups Kubernetes grants a service account
    /// (<c>system:serviceaccounts</c>, <c>system:serviceaccounts:&lt;namespace&gt;</c>, <c>system:authenticated</c>).
    /// </value>
    public string RoleClaimType { get; set; } = System.Security.Claims.ClaimTypes.Role;

    /// <summary>The cluster's name, issued as the <see cref="KubernetesClaimTypes.Cluster"/> claim.</summary>
    /// <value>Default <see langword="null"/>: the authentication scheme name.</value>
    public string? ClusterName { get; set; }

    /// <summary>
    /// The clusters this scheme accepts tokens of, by name, each with its own issuers, keys, backchannel and
    /// TokenReview (<c>o.Clusters.Add("prod-eu", c =&gt; c.Issuer = "...")</c>, or configuration
    /// <c>Authentication:Schemes:{scheme}:Clusters:prod-eu:Issuer</c>). A token is judged by the one cluster
    /// its <c>iss</c> names, found with one lookup.
    /// </summary>
    /// <remarks>
    /// Every per-cluster option set here at scheme level (<see cref="RefreshInterval"/>, <see cref="TokenReview"/>,
    /// the backchannel files, ...) is the default of every cluster, whatever the order code and configuration set
    /// them in. The options that say who a cluster is (<see cref="Issuer"/>, <see cref="AdditionalIssuers"/>,
    /// <see cref="MetadataAddress"/>, <see cref="JwksUri"/>, <see cref="JwksPath"/>, <see cref="SigningKeys"/>,
    /// <see cref="ConfigurationManager"/>, <see cref="InCluster"/>) and <c>TokenReview:ApiServer</c> are never
    /// inherited: set at scheme level, they make the scheme's own cluster one more cluster, named
    /// <see cref="ClusterName"/> (default: the scheme name).
    /// </remarks>
    /// <value>Default empty: the scheme is one cluster, set by the per-cluster properties.</value>
    public KubernetesClusterCollection Clusters { get; } = new();

    /// <summary>Options of the cache of validated tokens.</summary>
    public KubernetesValidationCacheOptions ValidationCache { get; } = new();

    /// <summary>The handler events; replace or assign delegates to observe and change the pipeline.</summary>
    public new KubernetesServiceAccountEvents Events
    {
        get => (KubernetesServiceAccountEvents)base.Events!;
        set => base.Events = value;
    }

    // The scheme's own cluster: the properties below set it (and, with several clusters, every cluster's defaults).

    /// <inheritdoc cref="KubernetesClusterOptions.Issuer"/>
    public string? Issuer { get => Cluster.Issuer; set => Cluster.Issuer = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.AdditionalIssuers"/>
    public ICollection<string> AdditionalIssuers => Cluster.AdditionalIssuers;

    /// <inheritdoc cref="KubernetesClusterOptions.MetadataAddress"/>
    public string? MetadataAddress { get => Cluster.MetadataAddress; set => Cluster.MetadataAddress = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.JwksUri"/>
    public string? JwksUri { get => Cluster.JwksUri; set => Cluster.JwksUri = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.JwksPath"/>
    public string? JwksPath { get => Cluster.JwksPath; set => Cluster.JwksPath = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.SigningKeys"/>
    public ICollection<SecurityKey> SigningKeys => Cluster.SigningKeys;

    /// <inheritdoc cref="KubernetesClusterOptions.ConfigurationManager"/>
    public IConfigurationManager<OpenIdConnectConfiguration>? ConfigurationManager { get => Cluster.ConfigurationManager; set => Cluster.ConfigurationManager = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.RequireHttpsMetadata"/>
    public bool RequireHttpsMetadata { get => Cluster.RequireHttpsMetadata; set => Cluster.RequireHttpsMetadata = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.RefreshInterval"/>
    public TimeSpan RefreshInterval { get => Cluster.RefreshInterval; set => Cluster.RefreshInterval = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.AutomaticRefreshInterval"/>
    public TimeSpan AutomaticRefreshInterval { get => Cluster.AutomaticRefreshInterval; set => Cluster.AutomaticRefreshInterval = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.MaxKeyFetchWait"/>
    public TimeSpan MaxKeyFetchWait { get => Cluster.MaxKeyFetchWait; set => Cluster.MaxKeyFetchWait = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.WarmUpOnStartup"/>
    public bool WarmUpOnStartup { get => Cluster.WarmUpOnStartup; set => Cluster.WarmUpOnStartup = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.InCluster"/>
    public bool InCluster { get => Cluster.InCluster; set => Cluster.InCluster = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.ServiceAccountDirectory"/>
    public string ServiceAccountDirectory { get => Cluster.ServiceAccountDirectory; set => Cluster.ServiceAccountDirectory = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.BackchannelCaCertificatePath"/>
    public string? BackchannelCaCertificatePath { get => Cluster.BackchannelCaCertificatePath; set => Cluster.BackchannelCaCertificatePath = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.BackchannelTokenPath"/>
    public string? BackchannelTokenPath { get => Cluster.BackchannelTokenPath; set => Cluster.BackchannelTokenPath = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.TokenReview"/>
    public KubernetesTokenReviewOptions TokenReview => Cluster.TokenReview;

    /// <inheritdoc cref="KubernetesClusterOptions.ClusterView"/>
    public KubernetesClusterViewOptions ClusterView => Cluster.ClusterView;

    /// <inheritdoc cref="KubernetesClusterOptions.BackchannelTimeout"/>
    public TimeSpan BackchannelTimeout { get => Cluster.BackchannelTimeout; set => Cluster.BackchannelTimeout = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.Backchannel"/>
    public HttpClient? Backchannel { get => Cluster.Backchannel; set => Cluster.Backchannel = value; }

    /// <inheritdoc cref="KubernetesClusterOptions.BackchannelHttpClientName"/>
    public string? BackchannelHttpClientName { get => Cluster.BackchannelHttpClientName; set => Cluster.BackchannelHttpClientName = value; }

    /// <summary>The scheme's own cluster, which the per-cluster properties above read and write.</summary>
    internal KubernetesClusterOptions Cluster { get; } = new();

    /// <summary>The key source, validator and cache built by post-configuration (derived state).</summary>
    internal SchemeRuntime? Runtime { get; set; }

    /// <summary>Set by the test kit: lets its stand-in issuer end a key source's back-off when an outage ends.</summary>
    internal Keys.KeyRetrySignal? KeyRetrySignal { get; set; }

    /// <summary>The first scheme-level configuration value that did not parse (the key and the value), reported by validation.</summary>
    internal string? ConfigurationError { get; set; }

    /// <summary>Whether <see cref="Validate()"/> succeeded once for this instance (it is called per request).</summary>
    internal bool IsValidated { get; set; }

    /// <summary>Whether the keys are static (<see cref="JwksPath"/> or <see cref="SigningKeys"/>): no discovery, no fetch.</summary>
    internal bool HasStaticKeys => Cluster.HasStaticKeys;

    /// <summary>Checks that the options can work; throws with a message naming the option and what to set.</summary>
    public override void Validate()
    {
        if (IsValidated)
        {
            return;
        }

        base.Validate();
        var error = GetValidationError();
        if (error is not null)
        {
            throw new InvalidOperationException(error);
        }

        IsValidated = true;
    }

    /// <summary>Checks that the options can work; the message names the scheme, the option and what to set.</summary>
    /// <param name="scheme">The authentication scheme these options belong to.</param>
    public override void Validate(string scheme)
    {
        if (IsValidated)
        {
            return;
        }

        var error = GetValidationError(scheme);
        if (error is not null)
        {
            throw new InvalidOperationException($"Authentication scheme '{scheme}': {error}");
        }

        base.Validate(scheme);
    }

    /// <summary>Returns the first configuration error, or <see langword="null"/> when the options can work.</summary>
    /// <param name="scheme">The scheme's name, the default name of its own cluster; <see langword="null"/> when unknown.</param>
    internal string? GetValidationError(string? scheme = null)
    {
        // Beside Clusters, the scheme's own cluster exists only if an option says who it is.
        var ownCluster = Clusters.Count == 0 || Cluster.HasIdentity;
        if ((ConfigurationError ?? (ownCluster ? Cluster.GetIdentityError() : Cluster.ConfigurationError)) is { } identityError)
        {
            return identityError;
        }

        if (Audiences.Count == 0)
        {
            return $"The '{nameof(Audiences)}' option must name at least one audience: the audience of the projected token your callers mount (serviceAccountToken.audience).";
        }

        foreach (var audience in Audiences)
        {
            if (string.IsNullOrWhiteSpace(audience) || audience.Trim().Length != audience.Length)
            {
                return $"The '{nameof(Audiences)}' option contains an empty audience or one with leading or trailing spaces ('{audience}'); audiences are compared exactly.";
            }
        }

        if (Cluster.GetValidationError() is { } clusterError)
        {
            return clusterError;
        }

        if (string.IsNullOrWhiteSpace(NameClaimType) || string.IsNullOrWhiteSpace(RoleClaimType))
        {
            return $"The '{(string.IsNullOrWhiteSpace(NameClaimType) ? nameof(NameClaimType) : nameof(RoleClaimType))}' option is empty: name a claim type (for example '{KubernetesClaimTypes.ServiceAccountName}'), or leave it unset for the default.";
        }

        if (ClockSkew < TimeSpan.Zero || ClockSkew > TimeSpan.FromMinutes(10))
        {
            return $"The '{nameof(ClockSkew)}' option ({ClockSkew}) must be between 00:00:00 and 00:10:00.";
        }

        if (MaxTokenSize < 1024 || MaxTokenSize > 1024 * 1024)
        {
            return $"The '{nameof(MaxTokenSize)}' option ({MaxTokenSize}) must be between 1024 and 1048576 characters.";
        }

        return ValidationCache.GetValidationError() ?? (Clusters.Count == 0 ? null : GetClustersError(scheme));
    }

    /// <summary>
    /// The clusters of this scheme with their effective options, built now: with no <see cref="Clusters"/>, these
    /// options themselves; else the scheme's own cluster when it has an identity, then each of <see cref="Clusters"/>
    /// on a copy of the scheme-level values.
    /// </summary>
    /// <remarks>
    /// A cluster's effective options are a whole <see cref="KubernetesServiceAccountOptions"/> (scheme-level values
    /// copied, <see cref="ClusterName"/> its name) so that the key source, validator, backchannel and TokenReview,
    /// which read these options, are built for a cluster exactly as for a scheme.
    /// </remarks>
    internal IReadOnlyList<ClusterDefinition> GetClusters(string scheme)
    {
        var own = string.IsNullOrWhiteSpace(ClusterName) ? scheme : ClusterName;
        if (Clusters.Count == 0)
        {
            return [new ClusterDefinition(own, string.Empty, this)];
        }

        var clusters = new List<ClusterDefinition>(Clusters.Count + 1);
        if (Cluster.HasIdentity)
        {
            clusters.Add(new ClusterDefinition(own, string.Empty, this));
        }

        foreach (var definition in Clusters.Definitions)
        {
            var options = new KubernetesServiceAccountOptions
            {
                AcceptLegacyTokens = AcceptLegacyTokens,
                ClockSkew = ClockSkew,
                MaxTokenSize = MaxTokenSize,
                IncludeErrorDetails = IncludeErrorDetails,
                EnforceWarnAfter = EnforceWarnAfter,
                ClusterName = definition.Name,
                ClaimsIssuer = ClaimsIssuer,
                TimeProvider = TimeProvider,
                KeyRetrySignal = KeyRetrySignal,
                Events = Events,
            };
            foreach (var audience in Audiences)
            {
                options.Audiences.Add(audience);
            }

            Cluster.CopyDefaultsTo(options.Cluster);
            foreach (var configure in definition.Actions)
            {
                configure(options.Cluster);
            }

            clusters.Add(new ClusterDefinition(definition.Name, $"{nameof(Clusters)}:{definition.Name}:", options));
        }

        return clusters;
    }

    private string? GetClustersError(string? scheme)
    {
        var clusters = GetClusters(scheme ?? KubernetesServiceAccountDefaults.AuthenticationScheme);
        var issuers = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        string? inCluster = null;
        foreach (var cluster in clusters)
        {
            var name = cluster.Name;
            if (cluster.Prefix.Length > 0 && (string.IsNullOrWhiteSpace(name) || name.Trim().Length != name.Length || name.Contains(':', StringComparison.Ordinal)))
            {
                return $"The cluster name '{name}' in '{nameof(Clusters)}' must be a non-empty name without ':' or leading or trailing spaces (it is the cluster's claim and its '@name' policies).";
            }

            if (!names.Add(name))
            {
                return $"The cluster name '{name}' in '{nameof(Clusters)}' is also the name of the scheme's own cluster (its '{nameof(Issuer)}' is set at scheme level): rename one, or set '{nameof(ClusterName)}'.";
            }

            var c = cluster.Options.Cluster;
            if (cluster.Prefix.Length > 0 && (c.GetIdentityError(cluster.Prefix) ?? c.GetValidationError(cluster.Prefix) ?? c.GetClusterViewServerError(cluster.Prefix, ClusterView.Enabled) ?? c.GetTokenReviewServerError(cluster.Prefix, TokenReview.Enabled)) is { } error)
            {
                return error;
            }

            foreach (var issuer in string.IsNullOrWhiteSpace(c.Issuer) ? c.AdditionalIssuers : c.AdditionalIssuers.Prepend(c.Issuer))
            {
                if (!issuers.TryAdd(issuer, name))
                {
                    return $"The '{cluster.Prefix}{(issuer == c.Issuer ? nameof(Issuer) : nameof(AdditionalIssuers))}' option ('{issuer}') is also an issuer of cluster '{issuers[issuer]}': a token's issuer must name one cluster.";
                }
            }

            if (c.InCluster)
            {
                if (inCluster is not null)
                {
                    return $"The '{cluster.Prefix}{nameof(InCluster)}' option is also set for cluster '{inCluster}': a Pod runs in one cluster; give the others their '{nameof(Issuer)}'.";
                }

                inCluster = name;
            }
        }

        return null;
    }
}
