// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.InCluster;

namespace KubeSaAuth.Backchannel;

/// <summary>
/// Outside the cluster: when <c>BackchannelCaCertificatePath</c> or <c>BackchannelTokenPath</c> is set, gives
/// the scheme a backchannel that trusts only that CA bundle and sends that token to the issuer's origin
/// only (the origin of <c>MetadataAddress</c>, or of the issuer's discovery document, or of <c>JwksUri</c>
/// when there is no discovery) — never to a <c>jwks_uri</c> on another origin. In-cluster mode builds its
/// own backchannel from the same parts.
/// </summary>
internal sealed class BackchannelConfigurer(BackchannelCredentialsRegistry registry) : IKubernetesBackchannelConfigurer
{
    public void PostConfigure(string name, KubernetesServiceAccountOptions options)
    {
        if (options.InCluster || (string.IsNullOrWhiteSpace(options.BackchannelCaCertificatePath) && string.IsNullOrWhiteSpace(options.BackchannelTokenPath)))
        {
            return;
        }

        if (options.Backchannel is not null)
        {
            throw new InvalidOperationException($"Authentication scheme '{name}': the '{nameof(options.Backchannel)}' option is set, so '{nameof(options.BackchannelCaCertificatePath)}' and '{nameof(options.BackchannelTokenPath)}' would be ignored; set either the HttpClient or the files.");
        }

        var problem = BackchannelFiles.Check(options, tokenReview: false);
        if (problem is not null)
        {
            throw new InvalidOperationException($"Authentication scheme '{name}': {problem}");
        }

        var (caPath, tokenPath) = BackchannelFiles.Resolve(options, tokenReview: false);
        var credentials = registry.Get(caPath, tokenPath, options.TimeProvider);
        options.Backchannel = new HttpClient(credentials.CreateHandler(TokenOrigins(options))) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Where the token may go: the API server that serves discovery (or, without discovery, the JWKS).</summary>
    internal static IReadOnlyCollection<Uri> TokenOrigins(KubernetesServiceAccountOptions options)
    {
        string? address = !string.IsNullOrWhiteSpace(options.MetadataAddress) ? options.MetadataAddress
            : string.IsNullOrWhiteSpace(options.JwksUri) ? options.Issuer
            : options.JwksUri;
        return Uri.TryCreate(address, UriKind.Absolute, out var uri) ? [new Uri(uri.GetLeftPart(UriPartial.Authority))] : [];
    }
}
