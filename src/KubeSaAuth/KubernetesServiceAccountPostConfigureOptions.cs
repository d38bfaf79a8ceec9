// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Diagnostics;
using KubeSaAuth.Keys;
using KubeSaAuth.Tokens;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KubeSaAuth;

/// <summary>
/// Builds the derived state of a scheme — addresses, backchannel, key source, validator, cache — filling
/// only what is unset.
/// </summary>
internal sealed class KubernetesServiceAccountPostConfigureOptions(
    IServiceProvider services,
    IHttpClientFactory httpClientFactory,
    ILoggerFactory loggerFactory,
    KubeSaAuthTelemetry telemetry,
    KeySourceRegistry registry)
    : IPostConfigureOptions<KubernetesServiceAccountOptions>
{
    public void PostConfigure(string? name, KubernetesServiceAccountOptions options)
    {
        name ??= Options.DefaultName;
        options.TimeProvider ??= services.GetService<TimeProvider>() ?? TimeProvider.System;
        options.BackchannelHttpClientName ??= KeySourceRegistry.HttpClientNamePrefix + name;

        foreach (var configurer in services.GetServices<IKubernetesBackchannelConfigurer>())
        {
            configurer.PostConfigure(name, options);
        }

        if (string.IsNullOrWhiteSpace(options.MetadataAddress) && Uri.TryCreate(options.Issuer, UriKind.Absolute, out _)
            && !(!string.IsNullOrWhiteSpace(options.JwksUri) && !string.IsNullOrWhiteSpace(options.Issuer)))
        {
            // Never a '//' in the path: the issuer may end with '/'.
            options.MetadataAddress = options.Issuer!.TrimEnd('/') + KubernetesServiceAccountDefaults.DiscoveryPath;
        }

        if (options.Runtime is not null || options.GetValidationError() is not null)
        {
            // Invalid options are reported by Validate() at startup and on use; nothing to build.
            return;
        }

        var logger = loggerFactory.CreateLogger(typeof(KubernetesServiceAccountHandler).FullName!);
        var retriever = new KeySetRetriever(
            string.IsNullOrWhiteSpace(options.MetadataAddress) ? null : options.MetadataAddress,
            string.IsNullOrWhiteSpace(options.JwksUri) ? null : options.JwksUri,
            options.RequireHttpsMetadata);
        var backchannel = options.Backchannel;
        var clientName = options.BackchannelHttpClientName;
        Func<HttpClient> client = backchannel is not null ? () => backchannel : () => httpClientFactory.CreateClient(clientName);
        var keys = new SigningKeySource(name, retriever, client, options, options.TimeProvider, logger, telemetry);
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
        options.Runtime = new SchemeRuntime(keys, validator, cache, reviewer);
    }
}

/// <summary>Lets in-cluster mode fill addresses and backchannel settings before the key source is built.</summary>
internal interface IKubernetesBackchannelConfigurer
{
    void PostConfigure(string name, KubernetesServiceAccountOptions options);
}

/// <summary>Creates the TokenReview step of a scheme, or <see langword="null"/> when it is off.</summary>
internal interface ITokenReviewerFactory
{
    ITokenReviewer? Create(string name, KubernetesServiceAccountOptions options);
}

/// <summary>Runs <see cref="KubernetesServiceAccountOptions.Validate()"/> for <c>ValidateOnStart</c>.</summary>
internal sealed class KubernetesServiceAccountValidateOptions : IValidateOptions<KubernetesServiceAccountOptions>
{
    public ValidateOptionsResult Validate(string? name, KubernetesServiceAccountOptions options)
    {
        var error = options.GetValidationError();
        return error is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail($"Authentication scheme '{name}': {error}");
    }
}
