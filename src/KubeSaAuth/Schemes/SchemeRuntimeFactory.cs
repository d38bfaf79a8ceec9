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
        foreach (var configurer in services.GetServices<IKubernetesBackchannelConfigurer>())
        {
            configurer.PostConfigure(name, options);
        }

        if (string.IsNullOrWhiteSpace(options.MetadataAddress) && Uri.TryCreate(options.Issuer, UriKind.Absolute, out _)
            && string.IsNullOrWhiteSpace(options.JwksUri) && !options.HasStaticKeys && options.ConfigurationManager is null)
        {
            // Never a '//' in the path: the issuer may end with '/'. With both Issuer and JwksUri set,
            // discovery is not needed and not fetched.
            options.MetadataAddress = options.Issuer!.TrimEnd('/') + KubernetesServiceAccountDefaults.DiscoveryPath;
        }

        // Throws the message that says what to set (also reported at startup by ValidateOnStart).
        options.Validate(name);

        var logger = loggerFactory.CreateLogger(typeof(KubernetesServiceAccountHandler).FullName!);
        var keys = new SigningKeySource(name, CreateRetriever(options), options, options.TimeProvider, logger, telemetry);
        registry.Add(name, keys);

        var validator = new KubernetesTokenValidator(options, name, keys, options.TimeProvider);
        var cache = options.ValidationCache.Enabled ? new ValidationCache(options, options.TimeProvider) : null;
        if (cache is not null)
        {
            keys.KeySetChanged += (_, removed) =>
            {
                if (removed)
                {
                    // A revoked key must not live on in the cache; entries also carry the trust epoch.
                    var dropped = cache.Clear();
                    Log.ValidationCacheInvalidated(logger, name, dropped);
                }
            };
        }

        var reviewer = services.GetService<ITokenReviewerFactory>()?.Create(name, options);
        var view = services.GetService<ClusterViewFactory>()?.Create(name, options);
        return new SchemeRuntime(keys, validator, cache, reviewer, view);
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
