// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net.Http.Headers;
using System.Security.Claims;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>
/// A TestServer app with the Kubernetes scheme over an in-process issuer, logging into a
/// <see cref="FakeLogCollector"/>: <c>/</c> needs an authenticated caller, <c>/ns</c> the policy
/// <c>namespace:my-namespace</c>.
/// </summary>
internal sealed class HardeningHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HardeningHost(WebApplication app)
    {
        _app = app;
        Client = app.GetTestClient();
        Logs = app.Services.GetFakeLogCollector();
    }

    public HttpClient Client { get; }

    public FakeLogCollector Logs { get; }

    public static async Task<HardeningHost> StartAsync(
        KubernetesTestIssuer issuer,
        Action<KubernetesServiceAccountOptions>? configure = null,
        Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateSlimBuilder();

        // Configuration explicit: not the sample API's appsettings.json copied to the test output.
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        builder.Logging.AddFakeLogging();
        builder.WebHost.UseTestServer();
        builder.Services.AddAuthentication().AddKubernetesServiceAccount(o =>
        {
            issuer.Configure(o, inProcess: true);
            configure?.Invoke(o);
        });
        builder.Services.AddAuthorization();
        services?.Invoke(builder.Services);
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/", (ClaimsPrincipal user) => Results.Text(user.GetKubernetesServiceAccount()?.Namespace ?? "?")).RequireAuthorization();
        app.MapGet("/ns", (ClaimsPrincipal user) => Results.Text(user.GetKubernetesServiceAccount()?.Namespace ?? "?")).RequireAuthorization("namespace:my-namespace");
        app.MapGet("/claim", (ClaimsPrincipal user) => Results.Text(user.FindFirst(KubernetesClaimTypes.Namespace)?.Value ?? "(none)")).RequireAuthorization();
        await app.StartAsync();
        return new HardeningHost(app);
    }

    public async Task<HttpResponseMessage> GetAsync(string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await Client.SendAsync(request);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.DisposeAsync();
    }
}
