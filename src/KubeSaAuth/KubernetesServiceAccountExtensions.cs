// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth;
using KubeSaAuth.Authorization;
using KubeSaAuth.Backchannel;
using KubeSaAuth.ClusterView;
using KubeSaAuth.Diagnostics;
using KubeSaAuth.InCluster;
using KubeSaAuth.Keys;
using KubeSaAuth.Schemes;
using KubeSaAuth.TokenReview;
using KubeSaAuth.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Kubernetes service-account authentication handler.</summary>
public static class KubernetesServiceAccountExtensions
{
    /// <summary>Adds the handler under <see cref="KubernetesServiceAccountDefaults.AuthenticationScheme"/>, configured from <c>Authentication:Schemes:KubernetesServiceAccount</c>.</summary>
    /// <param name="builder">The authentication builder.</param>
    /// <returns>The builder.</returns>
    public static AuthenticationBuilder AddKubernetesServiceAccount(this AuthenticationBuilder builder)
        => builder.AddKubernetesServiceAccount(KubernetesServiceAccountDefaults.AuthenticationScheme, _ => { });

    /// <summary>Adds the handler under <paramref name="authenticationScheme"/>, configured from <c>Authentication:Schemes:{scheme}</c>.</summary>
    /// <param name="builder">The authentication builder.</param>
    /// <param name="authenticationScheme">The scheme name.</param>
    /// <returns>The builder.</returns>
    public static AuthenticationBuilder AddKubernetesServiceAccount(this AuthenticationBuilder builder, string authenticationScheme)
        => builder.AddKubernetesServiceAccount(authenticationScheme, _ => { });

    /// <summary>Adds the handler under <see cref="KubernetesServiceAccountDefaults.AuthenticationScheme"/>.</summary>
    /// <param name="builder">The authentication builder.</param>
    /// <param name="configureOptions">Configures the options (after configuration binding).</param>
    /// <returns>The builder.</returns>
    public static AuthenticationBuilder AddKubernetesServiceAccount(this AuthenticationBuilder builder, Action<KubernetesServiceAccountOptions> configureOptions)
        => builder.AddKubernetesServiceAccount(KubernetesServiceAccountDefaults.AuthenticationScheme, configureOptions);

    /// <summary>Adds the handler under <paramref name="authenticationScheme"/>.</summary>
    /// <param name="builder">The authentication builder.</param>
    /// <param name="authenticationScheme">The scheme name.</param>
    /// <param name="configureOptions">Configures the options (after configuration binding).</param>
    /// <returns>The builder.</returns>
    public static AuthenticationBuilder AddKubernetesServiceAccount(this AuthenticationBuilder builder, string authenticationScheme, Action<KubernetesServiceAccountOptions> configureOptions)
        => builder.AddKubernetesServiceAccount(authenticationScheme, displayName: null, configureOptions);

    /// <summary>Adds the handler under <paramref name="authenticationScheme"/>.</summary>
    /// <param name="builder">The authentication builder.</param>
    /// <param name="authenticationScheme">The scheme name.</param>
    /// <param name="displayName">The display name.</param>
    /// <param name="configureOptions">Configures the options (after configuration binding).</param>
    /// <returns>The builder.</returns>
    public static AuthenticationBuilder AddKubernetesServiceAccount(this AuthenticationBuilder builder, string authenticationScheme, string? displayName, Action<KubernetesServiceAccountOptions> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(authenticationScheme);
        ArgumentNullException.ThrowIfNull(configureOptions);

        var services = builder.Services;
        services.AddHttpClient();
        services.AddMetrics();
        services.TryAddSingleton<KubeSaAuthTelemetry>();
        services.TryAddSingleton<KeySourceRegistry>();
        services.TryAddSingleton<SchemeRuntimeFactory>();
        services.TryAddSingleton<IssuerRouter>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<KubernetesServiceAccountOptions>, KubernetesServiceAccountConfigureOptions>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<KubernetesServiceAccountOptions>, KubernetesServiceAccountPostConfigureOptions>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KubernetesServiceAccountOptions>, KubernetesServiceAccountValidateOptions>());
        AddInCluster(services, authenticationScheme);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, KeyWarmUpService>());
        services.AddOptions<KubernetesServiceAccountOptions>(authenticationScheme).ValidateOnStart();
        AddPolicyProvider(services);

        return builder.AddScheme<KubernetesServiceAccountOptions, KubernetesServiceAccountHandler>(authenticationScheme, displayName ?? KubernetesServiceAccountDefaults.DisplayName, configureOptions);
    }

    /// <summary>
    /// Adds a readiness check of a scheme's signing keys: Healthy when fresh, Degraded while serving stale
    /// keys (the issuer is failing), Unhealthy (or <paramref name="failureStatus"/>) when there are none.
    /// Map it to a readiness endpoint, not to liveness.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="authenticationScheme">The scheme; default <see cref="KubernetesServiceAccountDefaults.AuthenticationScheme"/>.</param>
    /// <param name="name">The check's name; default <c>kubesa-keys-{scheme}</c>.</param>
    /// <param name="failureStatus">The status when there are no keys; default Unhealthy.</param>
    /// <param name="tags">Tags, e.g. <c>ready</c>.</param>
    /// <returns>The builder.</returns>
    public static IHealthChecksBuilder AddKubernetesServiceAccountKeys(this IHealthChecksBuilder builder, string? authenticationScheme = null, string? name = null, HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var scheme = authenticationScheme ?? KubernetesServiceAccountDefaults.AuthenticationScheme;
        return builder.Add(new HealthCheckRegistration(
            name ?? $"kubesa-keys-{scheme}",
            sp => new KubernetesServiceAccountKeysHealthCheck(sp.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>(), sp.GetRequiredService<SchemeRuntimeFactory>(), scheme),
            failureStatus,
            tags));
    }

    /// <summary>
    /// Adds a readiness check of a scheme's cluster view (<c>ClusterView:Enabled</c>): Healthy when complete and
    /// watching; Degraded while disconnected (since when) or not yet listed, or when RBAC refuses some verbs (named:
    /// <c>list pods</c>); Unhealthy (or <paramref name="failureStatus"/>) when RBAC refuses every one. A scheme of
    /// several clusters (<c>Clusters</c>) is reported cluster by cluster (data <c>cluster:{name}</c>, each reason
    /// named) with the worst status; a cluster whose view is off is named as not enabled and counts as healthy.
    /// Map it to a readiness endpoint, not to liveness.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="authenticationScheme">The scheme; default <see cref="KubernetesServiceAccountDefaults.AuthenticationScheme"/>.</param>
    /// <param name="name">The check's name; default <c>kubesa-view-{scheme}</c>.</param>
    /// <param name="failureStatus">The status when the view can see nothing; default Unhealthy.</param>
    /// <param name="tags">Tags, e.g. <c>ready</c>.</param>
    /// <returns>The builder.</returns>
    public static IHealthChecksBuilder AddKubernetesClusterView(this IHealthChecksBuilder builder, string? authenticationScheme = null, string? name = null, HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var scheme = authenticationScheme ?? KubernetesServiceAccountDefaults.AuthenticationScheme;
        return builder.Add(new HealthCheckRegistration(
            name ?? $"kubesa-view-{scheme}",
            sp => new KubernetesClusterViewHealthCheck(sp.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>(), sp.GetRequiredService<SchemeRuntimeFactory>(), scheme),
            failureStatus,
            tags));
    }

    private static void AddInCluster(IServiceCollection services, string authenticationScheme)
    {
        // In-cluster backchannel and TokenReview (Keys/InCluster*, Tokens/TokenReview*): inert unless enabled.
        services.TryAddSingleton<BackchannelCredentialsRegistry>();
        services.TryAddSingleton<TokenReviewMetrics>();
        services.TryAddSingleton<ITokenReviewerFactory, TokenReviewerFactory>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKubernetesBackchannelConfigurer, InClusterBackchannelConfigurer>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKubernetesBackchannelConfigurer, BackchannelConfigurer>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, InClusterStartupCheck>());
        TokenReviewerFactory.AddHttpClient(services, authenticationScheme);

        // The cluster view (ClusterView/): inert unless enabled.
        services.TryAddSingleton<ClusterViewFactory>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ClusterViewService>());
        ClusterViewFactory.AddHttpClient(services, authenticationScheme);
    }

    private static void AddPolicyProvider(IServiceCollection services)
    {
        // Replace the default provider (registered or about to be, by AddAuthorization's TryAdd); a
        // provider the application wrote itself is left alone — it can extend ours or use the builder methods.
        var existing = services.LastOrDefault(d => d.ServiceType == typeof(IAuthorizationPolicyProvider));
        if (existing is null || existing.ImplementationType == typeof(DefaultAuthorizationPolicyProvider))
        {
            // A singleton: its policy cache then lives as long as the app, and the authorization middleware's
            // per-request PolicyEvaluator (transient) does not build a new provider and cache each time.
            services.Replace(ServiceDescriptor.Singleton<IAuthorizationPolicyProvider, KubernetesAuthorizationPolicyProvider>());
        }

        // A policy of the builder helpers names no scheme: ASP.NET Core would authenticate and challenge it
        // with the default scheme, and answer 500 without one. These give it the Kubernetes schemes it needs
        // (Authorization/KubernetesPolicySchemes). The defaults are replaced (AddAuthorization adds them with
        // TryAdd, before or after this); an evaluator or result handler of the application's own is left alone.
        services.TryAddSingleton<KubernetesPolicySchemes>();
        var evaluator = services.LastOrDefault(d => d.ServiceType == typeof(IPolicyEvaluator));
        if (evaluator is null || evaluator.ImplementationType == typeof(PolicyEvaluator))
        {
            services.Replace(ServiceDescriptor.Transient<IPolicyEvaluator, KubernetesPolicyEvaluator>());
        }

        var resultHandler = services.LastOrDefault(d => d.ServiceType == typeof(IAuthorizationMiddlewareResultHandler));
        if (resultHandler is null || resultHandler.ImplementationType == typeof(AuthorizationMiddlewareResultHandler))
        {
            services.Replace(ServiceDescriptor.Singleton<IAuthorizationMiddlewareResultHandler, KubernetesAuthorizationResultHandler>());
        }
    }
}
