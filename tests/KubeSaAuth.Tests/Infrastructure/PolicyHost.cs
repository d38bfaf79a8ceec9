// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net.Http.Headers;
using System.Security.Claims;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>A TestServer app with one or more Kubernetes schemes, each served by a stand-in issuer in-process.</summary>
internal sealed class PolicyHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private PolicyHost(WebApplication app, HttpClient client)
    {
        _app = app;
        Client = client;
    }

    public HttpClient Client { get; }

    public static async Task<PolicyHost> StartAsync(
        IReadOnlyDictionary<string, KubernetesTestIssuer> schemes,
        Action<WebApplication> map,
        Action<AuthorizationOptions>? authorization = null,
        Action<AuthenticationBuilder>? moreSchemes = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseTestServer();
        var authentication = builder.Services.AddAuthentication();
        foreach (var (scheme, issuer) in schemes)
        {
            authentication.AddKubernetesServiceAccount(scheme, o => issuer.Configure(o, inProcess: true));
        }

        moreSchemes?.Invoke(authentication);
        builder.Services.AddAuthorization(o => authorization?.Invoke(o));
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        map(app);
        await app.StartAsync();
        return new PolicyHost(app, app.GetTestClient());
    }

    /// <summary>An endpoint that answers the caller's namespace, guarded by <paramref name="policy"/>.</summary>
    public static void MapGuarded(WebApplication app, string path, string policy) =>
        app.MapGet(path, (ClaimsPrincipal user) => Results.Text(user.GetKubernetesServiceAccount()?.Namespace ?? "?")).RequireAuthorization(policy);

    public async Task<HttpResponseMessage> GetAsync(string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await Client.SendAsync(request);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.DisposeAsync();
    }
}
