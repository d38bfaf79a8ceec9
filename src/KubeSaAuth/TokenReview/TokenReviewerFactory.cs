// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Backchannel;
using KubeSaAuth.InCluster;
using KubeSaAuth.Keys;
using KubeSaAuth.Schemes;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.TokenReview;

/// <summary>
/// Builds a scheme's <see cref="TokenReviewer"/> when <c>TokenReview:Enabled</c>. Requests go through the
/// named client <c>KubeSaAuth.TokenReview.{scheme}</c>, whose primary handler trusts only the cluster CA
/// and which sends the Pod's own token (the caller needs <c>system:auth-delegator</c>).
/// </summary>
internal sealed class TokenReviewerFactory(
    IServiceProvider services,
    IHttpClientFactory httpClientFactory,
    ILoggerFactory loggerFactory,
    TokenReviewMetrics metrics)
    : ITokenReviewerFactory
{
    internal const string HttpClientNamePrefix = "KubeSaAuth.TokenReview.";

    public ITokenReviewer? Create(string name, KubernetesServiceAccountOptions options)
    {
        if (!options.TokenReview.Enabled)
        {
            return null;
        }

        var apiServer = ResolveApiServer(services, options);
        var clientName = HttpClientNamePrefix + name;
        var logger = loggerFactory.CreateLogger(typeof(KubernetesServiceAccountHandler).FullName!);
        var time = options.TimeProvider ?? TimeProvider.System;
        TokenReviewSharedCache? shared = null;
        if (options.TokenReview.SharedCache)
        {
            var hybridCache = services.GetService<HybridCache>() ?? throw new InvalidOperationException(MissingHybridCacheMessage);
            shared = new TokenReviewSharedCache(hybridCache, name, apiServer, options.TokenReview.SharedCacheTimeout, time, logger, metrics);
        }

        return new TokenReviewer(name, apiServer, () => httpClientFactory.CreateClient(clientName), options, time, logger, metrics, shared);
    }

    /// <summary>What to register when <c>TokenReview:SharedCache</c> is on without a <see cref="HybridCache"/>.</summary>
    internal const string MissingHybridCacheMessage =
        "The 'TokenReview:SharedCache' option is on, but no HybridCache is registered: register the distributed cache the replicas share "
        + "and HybridCache over it, e.g. services.AddStackExchangeRedisCache(o => o.Configuration = \"redis:6379\") "
        + "(package Microsoft.Extensions.Caching.StackExchangeRedis) and services.AddHybridCache() (package Microsoft.Extensions.Caching.Hybrid), "
        + "or turn 'TokenReview:SharedCache' off.";

    /// <summary>Registers the TokenReview client of <paramref name="scheme"/> (used only when TokenReview is on).</summary>
    internal static void AddHttpClient(IServiceCollection services, string scheme)
    {
        services.AddHttpClient(HttpClientNamePrefix + scheme, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(sp => Credentials(sp, scheme).CreateTlsHandler())
            .AddHttpMessageHandler(sp =>
            {
                var options = sp.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(scheme);
                var apiServer = ResolveApiServer(sp, options);
                var token = Credentials(sp, scheme).Token!;
                return new Client.KubernetesServiceAccountTokenHandler(token, request => BackchannelCredentials.IsSameOrigin(request.RequestUri, apiServer));
            });
    }

    /// <summary>The Pod's ca.crt and token, unless BackchannelCaCertificatePath / BackchannelTokenPath name others.</summary>
    private static BackchannelCredentials Credentials(IServiceProvider services, string scheme)
    {
        var options = services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(scheme);
        var (caPath, tokenPath) = BackchannelFiles.Resolve(options, tokenReview: true);
        return services.GetRequiredService<BackchannelCredentialsRegistry>().Get(caPath, tokenPath, options.TimeProvider);
    }

    private static Uri ResolveApiServer(IServiceProvider services, KubernetesServiceAccountOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.TokenReview.ApiServer))
        {
            if (!Uri.TryCreate(options.TokenReview.ApiServer, UriKind.Absolute, out var configured)
                || (configured.Scheme != Uri.UriSchemeHttps && (options.RequireHttpsMetadata || configured.Scheme != Uri.UriSchemeHttp)))
            {
                throw new InvalidOperationException($"The 'TokenReview:ApiServer' option ('{options.TokenReview.ApiServer}') must be an absolute HTTPS URL.");
            }

            return configured;
        }

        return (services.GetService<InClusterEnvironment>() ?? InClusterEnvironment.Process).ResolveApiServer().BaseAddress;
    }
}
