// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Backchannel;
using KubeSaAuth.Caching;
using KubeSaAuth.ClusterView;
using KubeSaAuth.Diagnostics;
using KubeSaAuth.InCluster;
using KubeSaAuth.Keys;
using KubeSaAuth.TokenReview;
using KubeSaAuth.Tokens;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Schemes;

/// <summary>
/// Builds the long-lived machinery of a scheme on first use — addresses, key source, validator, cache —
/// from the final options. Not in <c>PostConfigure</c>: a <c>PostConfigure</c> the application (or a
/// <c>WebApplicationFactory</c> test) registers after ours would otherwise come too late.
/// </summary>
internal sealed class SchemeRuntimeFactory(
    IServiceProvider services,
    IHttpClientFactory httpClientFactory,
    ILoggerFactory loggerFactory,
    KubeSaAuthTelemetry telemetry,
    KeySourceRegistry registry)
{
    private readonly object _gate = new();

    public SchemeRuntime GetOrCreate(string name, KubernetesServiceAccountOptions options)
    {
        var runtime = options.Runtime;
        if (runtime is not null)
        {
            return runtime;
        }

        lock (_gate)
        {
            return options.Runtime ??= Create(name, options);
        }
    }

    private SchemeRuntime Create(string name, KubernetesServiceAccountOptions options)
    {
        options.TimeProvider ??= services.GetService<TimeProvider>() ?? TimeProvider.System;
        options.BackchannelHttpClientName ??= KeySourceRegistry.HttpClientNamePrefix + name;

        // Every cluster's effective options are copied from the scheme-level values before any of them is
        // configured below (the backchannel configurers write to the options they are given).
        var definitions = options.GetClusters(name);
        var single = options.Clusters.Count == 0;
        if (!single)
        {
            // The scheme-level options and every cluster's, with the message naming the key to fix
            // ('Clusters:prod-eu:Issuer'); also reported at startup by ValidateOnStart.
            options.Validate(name);
        }

        var logger = loggerFactory.CreateLogger(typeof(KubernetesServiceAccountHandler).FullName!);
        var cache = options.ValidationCache.Enabled ? new ValidationCache(options, options.TimeProvider) : null;
        var clusters = new List<ClusterRuntime>(definitions.Count);
        foreach (var definition in definitions)
        {
            // A scheme of one cluster keeps its scheme name in logs; clusters of a scheme are named scheme/cluster.
            var sourceName = single ? name : $"{name}/{definition.Name}";
            var clusterOptions = definition.Options;
            foreach (var configurer in services.GetServices<IKubernetesBackchannelConfigurer>())
            {
                configurer.PostConfigure(sourceName, clusterOptions);
            }

            if (string.IsNullOrWhiteSpace(clusterOptions.MetadataAddress) && Uri.TryCreate(clusterOptions.Issuer, UriKind.Absolute, out _)
                && string.IsNullOrWhiteSpace(clusterOptions.JwksUri) && !clusterOptions.HasStaticKeys && clusterOptions.ConfigurationManager is null)
            {
                // Never a '//' in the path: the issuer may end with '/'. With both Issuer and JwksUri set,
                // discovery is not needed and not fetched.
                clusterOptions.MetadataAddress = clusterOptions.Issuer!.TrimEnd('/') + KubernetesServiceAccountDefaults.DiscoveryPath;
            }

            if (ReferenceEquals(clusterOptions, options))
            {
                // Throws the message that says what to set (also reported at startup by ValidateOnStart).
                options.Validate(name);
            }
            else if ((clusterOptions.Cluster.GetIdentityError(definition.Prefix) ?? clusterOptions.Cluster.GetValidationError(definition.Prefix)) is { } error)
            {
                throw new InvalidOperationException($"Authentication scheme '{name}': {error}");
            }

            var keys = new SigningKeySource(sourceName, CreateRetriever(clusterOptions), clusterOptions, options.TimeProvider, logger, telemetry);
            registry.Add(sourceName, keys);
            var validator = new KubernetesTokenValidator(clusterOptions, name, keys, options.TimeProvider);
            var reviewer = services.GetService<ITokenReviewerFactory>()?.Create(sourceName, clusterOptions);

            // The scheme's own cluster uses the view client registered for the scheme; a cluster of Clusters
            // (known only now, from configuration) gets a client trusting its own files.
            var view = services.GetService<ClusterViewFactory>() is not { } views ? null
                : ReferenceEquals(clusterOptions, options) ? views.Create(name, clusterOptions)
                : views.CreateWithOwnClient(sourceName, clusterOptions);
            var cluster = new ClusterRuntime(definition.Name, name, clusterOptions, keys, validator, reviewer, view);
            if (cache is not null)
            {
                keys.KeySetChanged += (_, removed) =>
                {
                    if (removed)
                    {
                        // A revoked key must not live on in the cache; entries also carry the trust epoch.
                        var dropped = single ? cache.Clear() : cache.Clear(cluster);
                        Log.ValidationCacheInvalidated(logger, sourceName, dropped);
                    }
                };
            }

            clusters.Add(cluster);
        }

        return new SchemeRuntime(clusters, cache);
    }

    /// <summary>Where the keys come from: the application's configuration manager, a key file, keys given in code, or (the default) discovery and JWKS.</summary>
    private IKeySetRetriever CreateRetriever(KubernetesServiceAccountOptions options)
    {
        if (options.ConfigurationManager is { } manager)
        {
            return new ConfigurationManagerRetriever(manager);
        }

        if (!string.IsNullOrWhiteSpace(options.JwksPath))
        {
            return new KeyFileRetriever(options.JwksPath);
        }

        if (options.SigningKeys.Count > 0)
        {
            // Validate() has checked that every key converts.
            return new StaticKeyRetriever([.. options.SigningKeys.Select(k => StaticKeyRetriever.ToJsonWebKey(k, out _)!)]);
        }

        var retriever = new KeySetRetriever(
            string.IsNullOrWhiteSpace(options.MetadataAddress) ? null : options.MetadataAddress,
            string.IsNullOrWhiteSpace(options.JwksUri) ? null : options.JwksUri,
            options.RequireHttpsMetadata,
            BackchannelFiles.Resolve(options, tokenReview: false).TokenPath);
        var backchannel = options.Backchannel;
        var clientName = options.BackchannelHttpClientName!;
        Func<HttpClient> client = backchannel is not null ? () => backchannel : () => httpClientFactory.CreateClient(clientName);
        return new RemoteKeySetRetriever(retriever, client);
    }
}
