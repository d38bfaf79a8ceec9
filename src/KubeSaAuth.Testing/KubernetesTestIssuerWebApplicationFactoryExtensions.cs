// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net.Http.Headers;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace KubeSaAuth.Testing;

/// <summary>One-line use of a <see cref="KubernetesTestIssuer"/> with <see cref="WebApplicationFactory{TEntryPoint}"/>.</summary>
public static class KubernetesTestIssuerWebApplicationFactoryExtensions
{
    /// <summary>
    /// Returns a factory whose application trusts a new in-process <see cref="KubernetesTestIssuer"/>
    /// (no port, no network): <c>new WebApplicationFactory&lt;Program&gt;().WithKubernetesTestIssuer(out var issuer)</c>.
    /// </summary>
    /// <typeparam name="TEntryPoint">The application's entry point.</typeparam>
    /// <param name="factory">The factory.</param>
    /// <param name="issuer">The new issuer; mint tokens with <see cref="KubernetesTestIssuer.CreateToken"/>.</param>
    /// <returns>The new factory (dispose it; the original is left unchanged).</returns>
    /// <remarks>The default scheme (<see cref="KubernetesServiceAccountDefaults.AuthenticationScheme"/>) is pointed at the issuer; for another, use the overload that takes an issuer.</remarks>
    public static WebApplicationFactory<TEntryPoint> WithKubernetesTestIssuer<TEntryPoint>(this WebApplicationFactory<TEntryPoint> factory, out KubernetesTestIssuer issuer)
        where TEntryPoint : class
    {
        issuer = new KubernetesTestIssuer();
        return factory.WithKubernetesTestIssuer(issuer);
    }

    /// <summary>Returns a factory whose application trusts <paramref name="issuer"/> (in-process, or on loopback once started).</summary>
    /// <typeparam name="TEntryPoint">The application's entry point.</typeparam>
    /// <param name="factory">The factory.</param>
    /// <param name="issuer">The issuer.</param>
    /// <param name="authenticationScheme">The scheme; default <see cref="KubernetesServiceAccountDefaults.AuthenticationScheme"/>.</param>
    /// <returns>The new factory (dispose it; the original is left unchanged).</returns>
    public static WebApplicationFactory<TEntryPoint> WithKubernetesTestIssuer<TEntryPoint>(this WebApplicationFactory<TEntryPoint> factory, KubernetesTestIssuer issuer, string authenticationScheme = KubernetesServiceAccountDefaults.AuthenticationScheme)
        where TEntryPoint : class
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(issuer);
        return factory.WithWebHostBuilder(builder => builder.ConfigureTestServices(services => services.AddKubernetesTestIssuer(issuer, authenticationScheme)));
    }

    /// <summary>
    /// Returns a factory whose application's cluster view reads <paramref name="apiServer"/>: <c>ClusterView:Enabled</c>,
    /// <c>ClusterView:ApiServer</c> and plain HTTP (<see cref="KubernetesTestApiServer.Configure"/>), for label policies and revocation.
    /// </summary>
    /// <typeparam name="TEntryPoint">The application's entry point.</typeparam>
    /// <param name="factory">The factory.</param>
    /// <param name="apiServer">The stand-in API server, started (<see cref="KubernetesTestApiServer.StartAsync"/>).</param>
    /// <param name="authenticationScheme">The scheme; default <see cref="KubernetesServiceAccountDefaults.AuthenticationScheme"/>.</param>
    /// <returns>The new factory (dispose it; the original is left unchanged).</returns>
    public static WebApplicationFactory<TEntryPoint> WithKubernetesTestApiServer<TEntryPoint>(this WebApplicationFactory<TEntryPoint> factory, KubernetesTestApiServer apiServer, string authenticationScheme = KubernetesServiceAccountDefaults.AuthenticationScheme)
        where TEntryPoint : class
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(apiServer);
        return factory.WithWebHostBuilder(builder => builder.ConfigureTestServices(services => services.PostConfigure<KubernetesServiceAccountOptions>(authenticationScheme, apiServer.Configure)));
    }

    /// <summary>Creates a client that sends <c>Authorization: Bearer {token}</c> with every request.</summary>
    /// <typeparam name="TEntryPoint">The application's entry point.</typeparam>
    /// <param name="factory">The factory.</param>
    /// <param name="token">The token, e.g. from <see cref="KubernetesTokenBuilder.Build"/>.</param>
    /// <returns>The client.</returns>
    public static HttpClient CreateClientWithToken<TEntryPoint>(this WebApplicationFactory<TEntryPoint> factory, string token)
        where TEntryPoint : class
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentException.ThrowIfNullOrEmpty(token);
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>
    /// Creates a client that sends a fresh bound token of <paramref name="namespace"/>/<paramref name="serviceAccount"/>
    /// minted by <paramref name="issuer"/>, for the audience the application accepts.
    /// </summary>
    /// <typeparam name="TEntryPoint">The application's entry point.</typeparam>
    /// <param name="factory">The factory.</param>
    /// <param name="issuer">The issuer the application trusts.</param>
    /// <param name="namespace">The caller's namespace.</param>
    /// <param name="serviceAccount">The caller's service account.</param>
    /// <returns>The client.</returns>
    public static HttpClient CreateClientWithToken<TEntryPoint>(this WebApplicationFactory<TEntryPoint> factory, KubernetesTestIssuer issuer, string @namespace, string serviceAccount)
        where TEntryPoint : class
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(issuer);

        // The client first: starting the host resolves the options, so the issuer has adopted the
        // application's audiences before the token is minted.
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", issuer.CreateToken(@namespace, serviceAccount).Build());
        return client;
    }
}
