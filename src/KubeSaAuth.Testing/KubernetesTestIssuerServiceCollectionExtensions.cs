// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth;
using KubeSaAuth.Testing;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Points an application's Kubernetes service-account scheme at a <see cref="KubernetesTestIssuer"/>.</summary>
public static class KubernetesTestIssuerServiceCollectionExtensions
{
    /// <summary>
    /// Makes the scheme trust <paramref name="issuer"/>: its issuer, its discovery document and JWKS (served
    /// in-process, without a port, unless the issuer was started on loopback with
    /// <see cref="KubernetesTestIssuer.StartAsync"/>), and its default audiences when the application configured none.
    /// Registered as a post-configuration, so it wins over <c>appsettings.json</c> and the application's own setup.
    /// </summary>
    /// <param name="services">The application's services (e.g. in <c>WebApplicationFactory.ConfigureTestServices</c>).</param>
    /// <param name="issuer">The stand-in issuer.</param>
    /// <param name="authenticationScheme">The scheme; default <see cref="KubernetesServiceAccountDefaults.AuthenticationScheme"/>.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddKubernetesTestIssuer(this IServiceCollection services, KubernetesTestIssuer issuer, string authenticationScheme = KubernetesServiceAccountDefaults.AuthenticationScheme)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(issuer);
        ArgumentException.ThrowIfNullOrWhiteSpace(authenticationScheme);
        services.PostConfigure<KubernetesServiceAccountOptions>(authenticationScheme, options => issuer.Configure(options));
        return services;
    }
}
