// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Backchannel;
using KubeSaAuth.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.InCluster;

/// <summary>
/// In-cluster mode: points discovery and JWKS at the API server and gives the scheme a backchannel that
/// trusts only the cluster CA and authenticates with the Pod's token. Fills only what is unset: an
/// explicit <c>MetadataAddress</c>, <c>JwksUri</c>, <c>Issuer</c> or <c>Backchannel</c> wins.
/// </summary>
internal sealed class InClusterBackchannelConfigurer(IServiceProvider services, BackchannelCredentialsRegistry registry, ILoggerFactory loggerFactory)
    : IKubernetesBackchannelConfigurer
{
    public void PostConfigure(string name, KubernetesServiceAccountOptions options)
    {
        if (!options.InCluster)
        {
            return;
        }

        var logger = loggerFactory.CreateLogger(typeof(KubernetesServiceAccountHandler).FullName!);
        var problem = BackchannelFiles.Check(options, tokenReview: false);
        if (problem is not null)
        {
            throw new InvalidOperationException($"Authentication scheme '{name}': {problem}");
        }

        var environment = services.GetService<InClusterEnvironment>() ?? InClusterEnvironment.Process;
        var (apiServer, fromEnvironment) = environment.ResolveApiServer();
        if (!fromEnvironment)
        {
            Log.InClusterNoServiceHost(logger, name, InClusterEnvironment.HostVariable, apiServer.ToString());
        }

        var root = apiServer.GetLeftPart(UriPartial.Authority);
        if (string.IsNullOrWhiteSpace(options.MetadataAddress) && (string.IsNullOrWhiteSpace(options.JwksUri) || string.IsNullOrWhiteSpace(options.Issuer)))
        {
            // The issuer comes from discovery unless set; with both Issuer and JwksUri set, discovery is not needed.
            options.MetadataAddress = root + KubernetesServiceAccountDefaults.DiscoveryPath;
        }

        if (string.IsNullOrWhiteSpace(options.JwksUri))
        {
            // The discovery document's jwks_uri names the external issuer host, often unreachable from the Pod.
            options.JwksUri = root + KubernetesServiceAccountDefaults.JwksPath;
        }

        if (options.Backchannel is null)
        {
            // The Pod's ca.crt and token, unless BackchannelCaCertificatePath / BackchannelTokenPath name others.
            var (caPath, tokenPath) = BackchannelFiles.Resolve(options, tokenReview: false);
            var credentials = registry.Get(caPath, tokenPath, options.TimeProvider);
            options.Backchannel = new HttpClient(credentials.CreateHandler([apiServer])) { Timeout = Timeout.InfiniteTimeSpan };
        }

        Log.InClusterConfigured(logger, name, root, options.ServiceAccountDirectory);
    }
}
