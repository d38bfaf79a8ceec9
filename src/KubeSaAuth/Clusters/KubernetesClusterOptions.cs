// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth;

/// <summary>
/// The options of one cluster: its issuers, where its keys come from, how the backchannel reaches it,
/// and its TokenReview. Set at scheme level on <see cref="KubernetesServiceAccountOptions"/> (the scheme's
/// own cluster, and the default of every other cluster of the scheme).
/// </summary>
/// <remarks>Bound from <c>Authentication:Schemes:{scheme}</c> (every key here binds there as well).</remarks>
public class KubernetesClusterOptions
{
    private static readonly TimeSpan MinimumRefreshInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The issuer that tokens must name in <c>iss</c>, e.g. <c>https://kubernetes.default.svc.cluster.local</c>
    /// or, on EKS/AKS/GKE, the cluster's public OIDC URL.
    /// </summary>
    /// <value>Default <see langword="null"/>: the <c>issuer</c> of the discovery document is used.</value>
    public string? Issuer { get; set; }

    /// <summary>
    /// More issuers accepted in <c>iss</c>, with the same keys: during an issuer migration the API server is
    /// given <c>--service-account-issuer</c> more than once; the first signs new tokens, all are accepted,
    /// and discovery names only the first (put that one in <see cref="Issuer"/>, the older ones here).
    /// A token naming one of these is judged by this cluster only, as one naming <see cref="Issuer"/>.
    /// </summary>
    /// <value>Default empty. Holds each value once: configuration's values, then those code adds.</value>
    public ICollection<string> AdditionalIssuers { get; } = new DistinctStringCollection();

    /// <summary>The address of the OpenID discovery document.</summary>
    /// <value>Default <see langword="null"/>: <c>{Issuer}/.well-known/openid-configuration</c> (or, in-cluster, on the API server).</value>
    public string? MetadataAddress { get; set; }

    /// <summary>
    /// The address of the JWKS. Overrides the discovery document's <c>jwks_uri</c>, which often names an
    /// address the caller cannot reach (a node IP, an internal host name).
    /// </summary>
    /// <value>Default <see langword="null"/>: the discovery document's <c>jwks_uri</c>.</value>
    public string? JwksUri { get; set; }

    /// <summary>
    /// A file holding the issuer's public keys, read instead of fetching discovery and JWKS: a JWKS, as
    /// <c>kubectl get --raw /openid/v1/jwks</c> prints it, or PEM public keys (<c>-----BEGIN PUBLIC KEY-----</c>
    /// or <c>-----BEGIN RSA PUBLIC KEY-----</c> blocks; RSA, or EC on P-256/384/521), as the API server's
    /// <c>--service-account-key-file</c> holds them, each with the <c>kid</c> Kubernetes derives
    /// (base64url of the SHA-256 of its DER SubjectPublicKeyInfo). The file is read again every
    /// <see cref="RefreshInterval"/> and when a token names an unknown <c>kid</c>; a key removed from it is
    /// distrusted at once. Requires <see cref="Issuer"/>; nothing is fetched over the network.
    /// </summary>
    /// <value>Default <see langword="null"/>: keys are fetched from the issuer.</value>
    public string? JwksPath { get; set; }

    /// <summary>
    /// The issuer's public keys, given in code instead of fetching them: <see cref="RsaSecurityKey"/>,
    /// <see cref="ECDsaSecurityKey"/> (P-256/384/521), <see cref="X509SecurityKey"/> or an RSA/EC
    /// <see cref="JsonWebKey"/>. A key without a <c>KeyId</c> gets the <c>kid</c> Kubernetes derives.
    /// Requires <see cref="Issuer"/>; nothing is fetched over the network. Code only (not bound from configuration).
    /// </summary>
    /// <value>Default empty: keys are fetched from the issuer (or read from <see cref="JwksPath"/>).</value>
    public ICollection<SecurityKey> SigningKeys { get; } = new List<SecurityKey>();

    /// <summary>
    /// An IdentityModel configuration manager to take the keys from instead of the handler's own key source,
    /// as <c>JwtBearerOptions.ConfigurationManager</c>: IdentityModel's <c>ConfigurationManager</c>,
    /// <c>StaticConfigurationManager</c>, or any implementation. Its configuration's <c>JsonWebKeySet</c> (else
    /// <c>SigningKeys</c>) are the keys and its <c>Issuer</c> the discovered issuer. It is asked once at a time,
    /// on first use, every <see cref="AutomaticRefreshInterval"/> and, for an unknown <c>kid</c>, at most once per
    /// <see cref="RefreshInterval"/> (<c>RequestRefresh</c>, then <c>GetConfigurationAsync</c>); what it then
    /// fetches, and when, is its own decision (docs/resilience.md says what that costs). Code only (not bound
    /// from configuration).
    /// </summary>
    /// <value>Default <see langword="null"/>: the handler's own key source (discovery and JWKS, <see cref="JwksPath"/> or <see cref="SigningKeys"/>).</value>
    public IConfigurationManager<OpenIdConnectConfiguration>? ConfigurationManager { get; set; }

    /// <summary>Whether the discovery document and JWKS must be fetched over HTTPS.</summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool RequireHttpsMetadata { get; set; } = true;

    /// <summary>
    /// The minimum time between two fetches of the keys, successful or not. A token whose <c>kid</c> is
    /// not in the key set causes at most one fetch per interval, however many such tokens arrive.
    /// </summary>
    /// <value>Default 10 seconds; at least 1 second.</value>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often the keys are fetched again in the background. This bounds how long a key that the
    /// cluster removed from its JWKS (revoked) is still trusted.
    /// </summary>
    /// <value>Default 5 minutes.</value>
    public TimeSpan AutomaticRefreshInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The longest a request waits for a key fetch it needs (no keys yet, or an unknown <c>kid</c>);
    /// past it, the request gets a 401 while the fetch goes on.
    /// </summary>
    /// <value>Default 3 seconds.</value>
    public TimeSpan MaxKeyFetchWait { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Whether to fetch the keys while the application starts, before it reports ready.</summary>
    /// <value>Default <see langword="false"/>: keys are fetched on first use.</value>
    public bool WarmUpOnStartup { get; set; }

    /// <summary>
    /// In-cluster mode: discovery and JWKS are fetched from the API server named by
    /// <c>KUBERNETES_SERVICE_HOST</c>/<c>KUBERNETES_SERVICE_PORT</c>, authenticated with the Pod's own token
    /// and trusting only the cluster CA, both read from <see cref="ServiceAccountDirectory"/>.
    /// </summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool InCluster { get; set; }

    /// <summary>The directory holding the Pod's <c>token</c>, <c>ca.crt</c> and <c>namespace</c> (in-cluster mode).</summary>
    /// <value>Default <c>/var/run/secrets/kubernetes.io/serviceaccount</c>.</value>
    public string ServiceAccountDirectory { get; set; } = KubernetesServiceAccountDefaults.ServiceAccountDirectory;

    /// <summary>
    /// A PEM bundle (the cluster CA, e.g. from <c>kubectl config view --raw</c>) that alone is trusted for
    /// discovery, JWKS and TokenReview: not the machine's store, no revocation lookups, the host name checked,
    /// a server certificate issued for serverAuth required. Re-read when the file changes. In-cluster, it
    /// replaces the Pod's <c>ca.crt</c>.
    /// </summary>
    /// <value>Default <see langword="null"/>: the machine's trust store (in-cluster and for TokenReview: the Pod's <c>ca.crt</c>).</value>
    public string? BackchannelCaCertificatePath { get; set; }

    /// <summary>
    /// A file whose content is sent as <c>Authorization: Bearer</c> with discovery, JWKS and TokenReview requests,
    /// to the issuer's origin only (never to a <c>jwks_uri</c> on another origin), e.g. the output of
    /// <c>kubectl create token</c>. Re-read every minute and after a 401. In-cluster, it replaces the Pod's <c>token</c>.
    /// </summary>
    /// <value>Default <see langword="null"/>: no token (in-cluster and for TokenReview: the Pod's <c>token</c>).</value>
    public string? BackchannelTokenPath { get; set; }

    /// <summary>The timeout of each backchannel request (discovery, JWKS, TokenReview).</summary>
    /// <value>Default 10 seconds.</value>
    public TimeSpan BackchannelTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The HTTP client used for the backchannel. When <see langword="null"/>, the named
    /// <see cref="System.Net.Http.IHttpClientFactory"/> client <see cref="BackchannelHttpClientName"/> is used.
    /// </summary>
    /// <value>Default <see langword="null"/>.</value>
    public HttpClient? Backchannel { get; set; }

    /// <summary>
    /// The name of the <see cref="System.Net.Http.IHttpClientFactory"/> client used for the backchannel;
    /// add handlers to it with <c>services.AddHttpClient(name)</c>.
    /// </summary>
    /// <value>Default <see langword="null"/>: <c>KubeSaAuth.{scheme}</c>.</value>
    public string? BackchannelHttpClientName { get; set; }

    /// <summary>Options of the optional TokenReview check against the API server.</summary>
    public KubernetesTokenReviewOptions TokenReview { get; } = new();

    /// <summary>The cluster view: labels for <c>namespace-selector:</c> and <c>pod-selector:</c> policies, and revocation of tokens whose Pod or ServiceAccount is gone.</summary>
    public KubernetesClusterViewOptions ClusterView { get; } = new();

    /// <summary>The first configuration value of this cluster that did not parse (the key and the value), reported by validation.</summary>
    internal string? ConfigurationError { get; set; }

    /// <summary>Whether the keys are static (<see cref="JwksPath"/> or <see cref="SigningKeys"/>): no discovery, no fetch.</summary>
    internal bool HasStaticKeys => !string.IsNullOrWhiteSpace(JwksPath) || SigningKeys.Count > 0;

    /// <summary>
    /// Whether any option that says who this cluster is was set (<see cref="Issuer"/>, <see cref="AdditionalIssuers"/>,
    /// <see cref="MetadataAddress"/>, <see cref="JwksUri"/>, <see cref="JwksPath"/>, <see cref="SigningKeys"/>,
    /// <see cref="ConfigurationManager"/>, <see cref="InCluster"/>): at scheme level beside <c>Clusters</c>, it
    /// makes the scheme's own cluster one more cluster.
    /// </summary>
    internal bool HasIdentity =>
        !string.IsNullOrWhiteSpace(Issuer) || AdditionalIssuers.Count > 0 || !string.IsNullOrWhiteSpace(MetadataAddress)
        || !string.IsNullOrWhiteSpace(JwksUri) || HasStaticKeys || ConfigurationManager is not null || InCluster;

    /// <summary>
    /// Copies to <paramref name="target"/> every option that is a default of the scheme's clusters: all of them
    /// but those that say who a cluster is (<see cref="HasIdentity"/>) and <c>TokenReview:ApiServer</c> and <c>ClusterView:ApiServer</c> (where it is),
    /// which no two clusters share. Options/ClusterOptionsTests proves, by reflection, that none is forgotten.
    /// </summary>
    internal void CopyDefaultsTo(KubernetesClusterOptions target)
    {
        target.RequireHttpsMetadata = RequireHttpsMetadata;
        target.RefreshInterval = RefreshInterval;
        target.AutomaticRefreshInterval = AutomaticRefreshInterval;
        target.MaxKeyFetchWait = MaxKeyFetchWait;
        target.WarmUpOnStartup = WarmUpOnStartup;
        target.ServiceAccountDirectory = ServiceAccountDirectory;
        target.BackchannelCaCertificatePath = BackchannelCaCertificatePath;
        target.BackchannelTokenPath = BackchannelTokenPath;
        target.BackchannelTimeout = BackchannelTimeout;
        target.Backchannel = Backchannel;
        target.BackchannelHttpClientName = BackchannelHttpClientName;
        var review = target.TokenReview;
        review.Enabled = TokenReview.Enabled;
        review.CacheDuration = TokenReview.CacheDuration;
        review.MaxConcurrency = TokenReview.MaxConcurrency;
        review.FallBackToLocalValidation = TokenReview.FallBackToLocalValidation;
        review.SharedCache = TokenReview.SharedCache;
        review.SharedCacheLocalDuration = TokenReview.SharedCacheLocalDuration;
        review.SharedCacheTimeout = TokenReview.SharedCacheTimeout;
        var view = target.ClusterView;
        view.Enabled = ClusterView.Enabled;
        view.WatchNamespaces = ClusterView.WatchNamespaces;
        view.Revocation = ClusterView.Revocation;
        view.StreamingLists = ClusterView.StreamingLists;
        view.PageSize = ClusterView.PageSize;
        view.WatchTimeout = ClusterView.WatchTimeout;
        view.LookupCacheDuration = ClusterView.LookupCacheDuration;
        view.MaxLookupsPerSecond = ClusterView.MaxLookupsPerSecond;
        foreach (var watched in ClusterView.Namespaces)
        {
            view.Namespaces.Add(watched);
        }
    }

    /// <summary>
    /// Returns the first error of the options that decide who this cluster is and where its keys come
    /// from, or <see langword="null"/>. Option names are written <paramref name="prefix"/> + name
    /// (e.g. <c>Clusters:prod-eu:</c>), so the message names the key to fix.
    /// </summary>
    internal string? GetIdentityError(string prefix = "")
    {
        if (ConfigurationError is not null)
        {
            return ConfigurationError;
        }

        if (HasStaticKeys && GetStaticKeysError(prefix) is { } staticError)
        {
            return staticError;
        }

        if (ConfigurationManager is not null && GetConfigurationManagerError(prefix) is { } managerError)
        {
            return managerError;
        }

        if (string.IsNullOrWhiteSpace(Issuer) && string.IsNullOrWhiteSpace(MetadataAddress) && string.IsNullOrWhiteSpace(JwksUri) && !InCluster && ConfigurationManager is null)
        {
            return $"The '{prefix}{nameof(Issuer)}' option (or '{prefix}{nameof(MetadataAddress)}', or '{prefix}{nameof(InCluster)}') must be set: the service-account issuer of the cluster, e.g. 'https://kubernetes.default.svc.cluster.local' (kubectl get --raw /.well-known/openid-configuration shows it).";
        }

        if (string.IsNullOrWhiteSpace(Issuer) && string.IsNullOrWhiteSpace(MetadataAddress) && !InCluster && ConfigurationManager is null)
        {
            // Only JwksUri: keys, but no discovery document to learn the issuer from, so every token would be refused.
            return $"The '{prefix}{nameof(Issuer)}' option must be set when only '{prefix}{nameof(JwksUri)}' is: without a discovery document ('{prefix}{nameof(MetadataAddress)}') there is nothing to learn the issuer from.";
        }

        return null;
    }

    /// <summary>
    /// Returns the first error of the rest of this cluster's options (addresses, intervals, files,
    /// TokenReview), or <see langword="null"/>; see <see cref="GetIdentityError"/> for <paramref name="prefix"/>.
    /// </summary>
    internal string? GetValidationError(string prefix = "")
    {
        foreach (var additional in AdditionalIssuers)
        {
            if (string.IsNullOrWhiteSpace(additional) || additional.Trim().Length != additional.Length)
            {
                return $"The '{prefix}{nameof(AdditionalIssuers)}' option contains an empty issuer or one with leading or trailing spaces ('{additional}'); issuers are compared exactly.";
            }
        }

        // The discovery address is derived from the issuer ({Issuer}/.well-known/...), and a '//' in a path
        // is a different resource to the API server's router: refuse it here, not at the first request.
        if (Uri.TryCreate(Issuer, UriKind.Absolute, out var issuerAsUri) && issuerAsUri.AbsolutePath.Contains("//", StringComparison.Ordinal))
        {
            return $"The '{prefix}{nameof(Issuer)}' option ('{Issuer}') has '//' in its path; tokens name the issuer exactly, so use the value of 'issuer' from the cluster's discovery document (kubectl get --raw /.well-known/openid-configuration).";
        }

        // (A blank Issuer is GetIdentityError's to report; a scheme whose clusters are all in Clusters has none.)
        if (!InCluster && string.IsNullOrWhiteSpace(MetadataAddress) && string.IsNullOrWhiteSpace(JwksUri) && !HasStaticKeys && ConfigurationManager is null
            && !string.IsNullOrWhiteSpace(Issuer) && !Uri.TryCreate(Issuer, UriKind.Absolute, out _))
        {
            return $"The '{prefix}{nameof(Issuer)}' option ('{Issuer}') is not a URL, so discovery cannot be derived from it: set '{prefix}{nameof(MetadataAddress)}' or '{prefix}{nameof(JwksUri)}' to where the cluster serves its keys.";
        }

        foreach (var (name, value) in new[] { (nameof(MetadataAddress), MetadataAddress), (nameof(JwksUri), JwksUri) })
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                continue;
            }

            if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
            {
                return $"The '{prefix}{name}' option ('{value}') must be an absolute http(s) URL.";
            }

            if (RequireHttpsMetadata && uri.Scheme != Uri.UriSchemeHttps)
            {
                return $"The '{prefix}{name}' option ('{value}') must use HTTPS, or set '{prefix}{nameof(RequireHttpsMetadata)}' to false (development only).";
            }

            if (uri.AbsolutePath.Contains("//", StringComparison.Ordinal))
            {
                return $"The '{prefix}{name}' option ('{value}') has '//' in its path; remove the doubled slash.";
            }
        }

        if (string.IsNullOrWhiteSpace(MetadataAddress) && string.IsNullOrWhiteSpace(JwksUri) && !InCluster && !HasStaticKeys && ConfigurationManager is null && RequireHttpsMetadata
            && Uri.TryCreate(Issuer, UriKind.Absolute, out var issuerUri) && issuerUri.Scheme != Uri.UriSchemeHttps)
        {
            return $"The '{prefix}{nameof(Issuer)}' option ('{Issuer}') is not HTTPS, so neither is its discovery document: set '{prefix}{nameof(RequireHttpsMetadata)}' to false (development only) or use an HTTPS issuer.";
        }

        if (RefreshInterval < MinimumRefreshInterval)
        {
            return $"The '{prefix}{nameof(RefreshInterval)}' option ({RefreshInterval}) must be at least 00:00:01.";
        }

        if (AutomaticRefreshInterval < RefreshInterval)
        {
            return $"The '{prefix}{nameof(AutomaticRefreshInterval)}' option ({AutomaticRefreshInterval}) must be at least '{prefix}{nameof(RefreshInterval)}' ({RefreshInterval}).";
        }

        if (MaxKeyFetchWait <= TimeSpan.Zero)
        {
            return $"The '{prefix}{nameof(MaxKeyFetchWait)}' option ({MaxKeyFetchWait}) must be positive.";
        }

        if (BackchannelTimeout <= TimeSpan.Zero)
        {
            return $"The '{prefix}{nameof(BackchannelTimeout)}' option ({BackchannelTimeout}) must be positive.";
        }

        foreach (var (name, value) in new[] { (nameof(BackchannelCaCertificatePath), BackchannelCaCertificatePath), (nameof(BackchannelTokenPath), BackchannelTokenPath) })
        {
            if (value is not null && value.Trim().Length != value.Length)
            {
                return $"The '{prefix}{name}' option ('{value}') has leading or trailing spaces; name the file exactly.";
            }
        }

        if (string.IsNullOrWhiteSpace(ServiceAccountDirectory))
        {
            return $"The '{prefix}{nameof(ServiceAccountDirectory)}' option must name a directory.";
        }

        if ((TokenReview.GetValidationError(prefix + nameof(TokenReview) + ":") ?? ClusterView.GetValidationError(prefix + nameof(ClusterView) + ":")) is { } partError)
        {
            return partError;
        }

        // The view sends this cluster's token to its API server: over HTTPS, as the backchannel (checked here, so that
        // the message names the cluster's key rather than failing when the view starts).
        if (ClusterView.Enabled && Uri.TryCreate(ClusterView.ApiServer, UriKind.Absolute, out var viewServer)
            && viewServer.Scheme != Uri.UriSchemeHttps && (RequireHttpsMetadata || viewServer.Scheme != Uri.UriSchemeHttp))
        {
            return $"The '{prefix}{nameof(ClusterView)}:{nameof(ClusterView.ApiServer)}' option ('{ClusterView.ApiServer}') must use HTTPS, or set '{prefix}{nameof(RequireHttpsMetadata)}' to false (development only).";
        }

        return null;
    }

    /// <summary>
    /// For a cluster of <c>Clusters</c> (<paramref name="prefix"/> <c>Clusters:{name}:</c>) whose view is on: the error
    /// when it names no API server for the view. The view's last default, the in-cluster API server, is the cluster the
    /// service runs in: for another cluster it would list the wrong Pods, and refuse every caller of this one (its Pods
    /// are not there: a GET answers 404). So a cluster of <c>Clusters</c> gets it only when it is <see cref="InCluster"/>.
    /// </summary>
    internal string? GetClusterViewServerError(string prefix, bool enabledAtSchemeLevel)
    {
        if (!ClusterView.Enabled || InCluster || !string.IsNullOrWhiteSpace(ClusterView.ApiServer) || !string.IsNullOrWhiteSpace(TokenReview.ApiServer))
        {
            return null;
        }

        return NoApiServerError(prefix, nameof(ClusterView), enabledAtSchemeLevel, "for its view", "its view would refuse every caller of another cluster");
    }

    /// <summary>
    /// For a cluster of <c>Clusters</c> whose TokenReview is on: the error when it names no API server to review with.
    /// The last default, the in-cluster API server, is the service's own cluster, which would refuse every token of
    /// another cluster (as <see cref="GetClusterViewServerError"/> for the view).
    /// </summary>
    internal string? GetTokenReviewServerError(string prefix, bool enabledAtSchemeLevel)
    {
        if (!TokenReview.Enabled || InCluster || !string.IsNullOrWhiteSpace(TokenReview.ApiServer))
        {
            return null;
        }

        return NoApiServerError(prefix, nameof(TokenReview), enabledAtSchemeLevel, "to review its tokens", "it would refuse every token of another cluster");
    }

    /// <summary>The message of <see cref="GetClusterViewServerError"/> and <see cref="GetTokenReviewServerError"/>: <paramref name="part"/> (<c>ClusterView</c>, <c>TokenReview</c>) is on without an API server.</summary>
    private static string NoApiServerError(string prefix, string part, bool enabledAtSchemeLevel, string purpose, string consequence)
    {
        var inherited = enabledAtSchemeLevel ? $" (inherited from the scheme-level '{part}:Enabled')" : string.Empty;
        return $"The '{prefix}{part}:Enabled' option is on{inherited}, but the cluster names no API server {purpose}: "
            + $"set '{prefix}{part}:ApiServer' (with '{prefix}{nameof(BackchannelCaCertificatePath)}' and '{prefix}{nameof(BackchannelTokenPath)}'), "
            + $"or '{prefix}{nameof(InCluster)}' when the service runs in that cluster, or set '{prefix}{part}:Enabled' to false. "
            + $"The in-cluster API server is the service's own cluster: {consequence}.";
    }

    private string? GetConfigurationManagerError(string prefix)
    {
        if (HasStaticKeys)
        {
            return $"The '{prefix}{nameof(ConfigurationManager)}' and '{prefix}{(string.IsNullOrWhiteSpace(JwksPath) ? nameof(SigningKeys) : nameof(JwksPath))}' options exclude each other: the keys come either from the configuration manager or from the handler.";
        }

        if (InCluster)
        {
            return $"The '{prefix}{nameof(ConfigurationManager)}' and '{prefix}{nameof(InCluster)}' options exclude each other: in-cluster mode fetches the keys from the API server itself; remove one of them.";
        }

        if (!string.IsNullOrWhiteSpace(MetadataAddress) || !string.IsNullOrWhiteSpace(JwksUri))
        {
            return $"The '{prefix}{nameof(ConfigurationManager)}' option fetches the keys, so '{prefix}{nameof(MetadataAddress)}' and '{prefix}{nameof(JwksUri)}' would never be used: give the address to the configuration manager and remove them here.";
        }

        return null;
    }

    private string? GetStaticKeysError(string prefix)
    {
        var source = prefix + (string.IsNullOrWhiteSpace(JwksPath) ? nameof(SigningKeys) : nameof(JwksPath));
        if (!string.IsNullOrWhiteSpace(JwksPath) && SigningKeys.Count > 0)
        {
            return $"The '{prefix}{nameof(JwksPath)}' and '{prefix}{nameof(SigningKeys)}' options exclude each other: give the keys either in a file or in code.";
        }

        if (string.IsNullOrWhiteSpace(Issuer))
        {
            return $"The '{prefix}{nameof(Issuer)}' option must be set with '{source}': static keys come with no discovery document to learn the issuer from (kubectl get --raw /.well-known/openid-configuration shows it).";
        }

        if (InCluster)
        {
            return $"The '{source}' and '{prefix}{nameof(InCluster)}' options exclude each other: in-cluster mode fetches the keys from the API server; remove one of them.";
        }

        if (!string.IsNullOrWhiteSpace(MetadataAddress) || !string.IsNullOrWhiteSpace(JwksUri))
        {
            return $"The '{source}' option gives the keys, so '{prefix}{nameof(MetadataAddress)}' and '{prefix}{nameof(JwksUri)}' would never be fetched: remove them (or '{source}').";
        }

        foreach (var key in SigningKeys)
        {
            if (key is null)
            {
                return $"The '{prefix}{nameof(SigningKeys)}' option contains a null key.";
            }

            string? unsupported;
            try
            {
                if (Keys.StaticKeyRetriever.ToJsonWebKey(key, out unsupported) is not null)
                {
                    continue;
                }
            }
            catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or ArgumentException or NotSupportedException)
            {
                unsupported = $"a {key.GetType().Name} whose public key cannot be read ({ex.Message})";
            }

            return $"The '{prefix}{nameof(SigningKeys)}' option contains {unsupported} (kid '{key.KeyId}').";
        }

        return null;
    }
}
