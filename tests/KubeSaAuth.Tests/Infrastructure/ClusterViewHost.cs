// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net.Http.Headers;
using System.Security.Claims;
using KubeSaAuth.ClusterView;
using KubeSaAuth.Schemes;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>
/// A TestServer app whose scheme keeps a cluster view of a <see cref="KubernetesTestApiServer"/> (Kestrel on loopback),
/// with tokens from an in-process issuer. Endpoints: <c>/any</c> (any service account), <c>/ns</c> (<c>namespace:shop</c>),
/// and <c>/guarded?policy=</c>-style routes added by <paramref name="map"/>.
/// </summary>
internal sealed class ClusterViewHost : IAsyncDisposable
{
    public const string Scheme = KubernetesServiceAccountDefaults.AuthenticationScheme;

    private readonly WebApplication _app;

    private ClusterViewHost(WebApplication app, KubernetesTestIssuer issuer, KubernetesTestApiServer apiServer, FakeLogCollector logs)
    {
        _app = app;
        Issuer = issuer;
        ApiServer = apiServer;
        Logs = logs;
        Client = app.GetTestClient();
    }

    public KubernetesTestIssuer Issuer { get; }

    public KubernetesTestApiServer ApiServer { get; }

    public FakeLogCollector Logs { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    public SchemeRuntime Runtime =>
        _app.Services.GetRequiredService<SchemeRuntimeFactory>().GetOrCreate(Scheme, _app.Services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(Scheme));

    public KubernetesClusterView View => Runtime.View ?? throw new InvalidOperationException("The view is off.");

    /// <summary>Starts the stand-in API server (seeded by <paramref name="seed"/> before the app starts) and the app.</summary>
    public static async Task<ClusterViewHost> StartAsync(
        Action<KubernetesTestApiServer>? seed = null,
        Action<KubernetesServiceAccountOptions>? configure = null,
        Action<WebApplication>? map = null,
        bool enableView = true)
    {
        var apiServer = await KubernetesTestApiServer.StartAsync();
        seed?.Invoke(apiServer);
        var issuer = new KubernetesTestIssuer();
        var logs = new FakeLogCollector();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new FakeLoggerProvider(logs));
        builder.WebHost.UseTestServer();
        builder.Services.AddAuthentication(Scheme).AddKubernetesServiceAccount(o =>
        {
            issuer.Configure(o, inProcess: true);
            if (enableView)
            {
                apiServer.Configure(o);
            }

            configure?.Invoke(o);
        });
        builder.Services.AddAuthorization();
        builder.Services.AddHealthChecks().AddKubernetesClusterView(tags: ["ready"]);
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/any", (ClaimsPrincipal user) => Results.Text(user.GetKubernetesServiceAccount()?.Name ?? "?")).RequireAuthorization();
        app.MapGet("/ns", (ClaimsPrincipal user) => Results.Text(user.GetKubernetesServiceAccount()?.Name ?? "?")).RequireAuthorization("namespace:shop");
        map?.Invoke(app);
        await app.StartAsync();
        return new ClusterViewHost(app, issuer, apiServer, logs);
    }

    /// <summary>Seeds namespace <c>shop</c>, its ServiceAccount <c>checkout</c> and Pod <c>checkout-1</c>.</summary>
    public static void SeedShop(KubernetesTestApiServer server, IReadOnlyDictionary<string, string>? podLabels = null, IReadOnlyDictionary<string, string>? namespaceLabels = null)
    {
        server.AddNamespace("shop", namespaceLabels ?? new Dictionary<string, string> { ["env"] = "prod" });
        server.AddServiceAccount("shop", "checkout");
        server.AddPod("shop", "checkout-1", podLabels ?? new Dictionary<string, string> { ["app"] = "checkout" });
    }

    /// <summary>A token of <c>shop/checkout</c> bound to Pod <paramref name="pod"/>, with the uids the stand-in holds (or those given).</summary>
    public string Token(string pod = "checkout-1", string? podUid = null, string? serviceAccountUid = null, string serviceAccount = "checkout", string ns = "shop")
    {
        var builder = Issuer.CreateToken(ns, serviceAccount)
            .WithServiceAccountUid(serviceAccountUid ?? ApiServer.Get(KubernetesTestResource.ServiceAccounts, ns, serviceAccount)?.Uid ?? Guid.NewGuid().ToString());
        return builder.WithPod(pod, podUid ?? ApiServer.Get(KubernetesTestResource.Pods, ns, pod)?.Uid ?? Guid.NewGuid().ToString()).Build();
    }

    public async Task<HttpResponseMessage> GetAsync(string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await Client.SendAsync(request);
    }

    public async Task<HealthReport> HealthAsync() => await _app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

    /// <summary>Waits (bounded, never a timing assertion) until <paramref name="condition"/> holds.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Still not true after 20 s: {what}.");
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await ApiServer.DisposeAsync();
    }
}
