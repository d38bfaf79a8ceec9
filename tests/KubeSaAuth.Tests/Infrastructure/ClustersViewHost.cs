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
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>
/// A TestServer app with one scheme (<see cref="Scheme"/>) of several clusters (<c>Clusters</c>), each of which may
/// keep its own cluster view of its own <see cref="KubernetesTestApiServer"/>, and the view health check. The endpoints
/// answer <c>{cluster}/{service account}</c>: <c>/any</c>, <c>/prod</c> (<c>namespace-selector:env=prod</c>),
/// <c>/staging</c> (<c>namespace-selector:env=staging</c>), <c>/checkout</c> (<c>pod-selector:app=checkout</c>),
/// <c>/other</c> (<c>pod-selector:app=other</c>), <c>/checkout-a</c> and <c>/checkout-b</c>
/// (<c>pod-selector:app=checkout@a</c>, <c>@b</c>).
/// </summary>
internal sealed class ClustersViewHost : IAsyncDisposable
{
    public const string Scheme = "k8s";

    private readonly WebApplication _app;

    private ClustersViewHost(WebApplication app)
    {
        _app = app;
        Client = app.GetTestClient();
        Logs = app.Services.GetFakeLogCollector();
    }

    public HttpClient Client { get; }

    public FakeLogCollector Logs { get; }

    public IServiceProvider Services => _app.Services;

    public SchemeRuntime Runtime =>
        _app.Services.GetRequiredService<SchemeRuntimeFactory>().GetOrCreate(Scheme, _app.Services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(Scheme));

    /// <summary>Starts the app: <paramref name="configure"/> sets the scheme's options, <paramref name="configuration"/> is its configuration.</summary>
    public static async Task<ClustersViewHost> StartAsync(Action<KubernetesServiceAccountOptions>? configure, IReadOnlyDictionary<string, string?>? configuration = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddFakeLogging();
        builder.WebHost.UseTestServer();
        if (configuration is not null)
        {
            builder.Configuration.AddInMemoryCollection(configuration);
        }

        builder.Services.AddAuthentication(Scheme).AddKubernetesServiceAccount(Scheme, o => configure?.Invoke(o));
        builder.Services.AddAuthorization();
        builder.Services.AddHealthChecks().AddKubernetesClusterView(Scheme);
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        Map(app, "/any", null);
        Map(app, "/prod", "namespace-selector:env=prod");
        Map(app, "/staging", "namespace-selector:env=staging");
        Map(app, "/checkout", "pod-selector:app=checkout");
        Map(app, "/other", "pod-selector:app=other");
        Map(app, "/checkout-a", "pod-selector:app=checkout@a");
        Map(app, "/checkout-b", "pod-selector:app=checkout@b");
        await app.StartAsync();
        return new ClustersViewHost(app);
    }

    /// <summary>Points cluster <paramref name="cluster"/> at <paramref name="issuer"/> (in process) and, when given, its view at <paramref name="apiServer"/>.</summary>
    /// <summary>The start error of a scheme <see cref="Scheme"/> configured by <paramref name="configure"/> (audience <c>my-api</c>), or <see langword="null"/>.</summary>
    public static string? StartError(Action<KubernetesServiceAccountOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddAuthentication().AddKubernetesServiceAccount(Scheme, o =>
        {
            o.Audiences.Add("my-api");
            configure(o);
        });
        using var provider = services.BuildServiceProvider();
        try
        {
            provider.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(Scheme);
            return null;
        }
        catch (Exception ex) when (ex is InvalidOperationException or OptionsValidationException)
        {
            return ex.Message;
        }
    }

    public static void ConfigureCluster(KubernetesClusterOptions cluster, KubernetesTestIssuer issuer, KubernetesTestApiServer? apiServer)
    {
        issuer.ConfigureCluster(cluster, inProcess: true);
        if (apiServer is not null)
        {
            cluster.ClusterView.Enabled = true;
            cluster.ClusterView.ApiServer = apiServer.BaseAddress.ToString();
        }
    }

    /// <summary>The view of cluster <paramref name="name"/>.</summary>
    public KubernetesClusterView View(string name) =>
        Runtime.ByName[name].View ?? throw new InvalidOperationException($"The view of cluster '{name}' is off.");

    /// <summary>A token of <c>{ns}/{serviceAccount}</c> from <paramref name="issuer"/>, bound to Pod <paramref name="pod"/>, with the uids <paramref name="server"/> holds.</summary>
    public static string Token(KubernetesTestIssuer issuer, KubernetesTestApiServer server, string ns = "shop", string serviceAccount = "checkout", string pod = "checkout-1") =>
        issuer.CreateToken(ns, serviceAccount)
            .WithServiceAccountUid(server.Get(KubernetesTestResource.ServiceAccounts, ns, serviceAccount)?.Uid ?? Guid.NewGuid().ToString())
            .WithPod(pod, server.Get(KubernetesTestResource.Pods, ns, pod)?.Uid ?? Guid.NewGuid().ToString())
            .Build();

    public async Task<HttpResponseMessage> GetAsync(string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await Client.SendAsync(request);
    }

    public async Task<HealthReportEntry> HealthAsync() =>
        (await _app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries.Single().Value;

    /// <summary>Polls the health check (bounded, never a timing assertion) until <paramref name="condition"/> holds, and returns that entry.</summary>
    public async Task<HealthReportEntry> HealthWhenAsync(Func<HealthReportEntry, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var entry = await HealthAsync();
            if (condition(entry))
            {
                return entry;
            }

            Assert.True(DateTime.UtcNow < deadline, $"Still not true after 20 s: {what}. Last report: {entry.Status}: {entry.Description}");
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static void Map(WebApplication app, string path, string? policy)
    {
        var endpoint = app.MapGet(path, (ClaimsPrincipal user) => user.GetKubernetesServiceAccount() is { } caller ? $"{caller.Cluster}/{caller.Name}" : "?");
        if (policy is null)
        {
            endpoint.RequireAuthorization();
        }
        else
        {
            endpoint.RequireAuthorization(policy);
        }
    }
}
