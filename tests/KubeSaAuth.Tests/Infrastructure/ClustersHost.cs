// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
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
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>
/// A TestServer app trusting several clusters, one Kubernetes scheme each, registered as the README shows
/// them (<c>AddAuthentication()</c> without a default scheme, unless one is given), with its logs and token metrics recorded.
/// </summary>
internal sealed class ClustersHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ClustersHost(WebApplication app)
    {
        _app = app;
        Client = app.GetTestClient();
        Logs = app.Services.GetFakeLogCollector();
        Tokens = new MetricCollector<long>(app.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), KubernetesServiceAccountDefaults.TelemetryName, "kubesa.tokens.validated");
    }

    public HttpClient Client { get; }

    public FakeLogCollector Logs { get; }

    public MetricCollector<long> Tokens { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Starts the app. Each cluster is a scheme of that name whose options <paramref name="configure"/> sets
    /// (the issuer is usually <see cref="KubernetesTestIssuer.Configure"/>); <paramref name="map"/> maps the
    /// endpoints, e.g. with <see cref="MapGuarded(WebApplication, string, string)"/>.
    /// </summary>
    public static async Task<ClustersHost> StartAsync(
        IReadOnlyList<string> clusters,
        Action<string, KubernetesServiceAccountOptions> configure,
        Action<AuthorizationOptions>? authorization = null,
        Action<WebApplication>? map = null,
        string? defaultScheme = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddFilter("KubeSaAuth", LogLevel.Debug);
        builder.Logging.AddFakeLogging();
        builder.WebHost.UseTestServer();
        var authentication = defaultScheme is null ? builder.Services.AddAuthentication() : builder.Services.AddAuthentication(defaultScheme);
        foreach (var cluster in clusters)
        {
            authentication.AddKubernetesServiceAccount(cluster, o => configure(cluster, o));
        }

        builder.Services.AddAuthorization(o => authorization?.Invoke(o));
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        map?.Invoke(app);
        await app.StartAsync();
        return new ClustersHost(app);
    }

    /// <summary>Maps <paramref name="path"/>, guarded by the policy named <paramref name="policy"/>.</summary>
    public static void MapGuarded(WebApplication app, string path, string policy) =>
        app.MapGet(path, (ClaimsPrincipal user) => Describe(user)).RequireAuthorization(policy);

    /// <summary>Maps <paramref name="path"/>, guarded by a policy object built in place.</summary>
    public static void MapGuarded(WebApplication app, string path, Action<AuthorizationPolicyBuilder> policy) =>
        app.MapGet(path, (ClaimsPrincipal user) => Describe(user)).RequireAuthorization(policy);

    public async Task<HttpResponseMessage> GetAsync(string path, string? token, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await Client.SendAsync(request, cancellationToken);
    }

    /// <summary>The response and how long it took.</summary>
    public async Task<(HttpResponseMessage Response, TimeSpan Elapsed)> TimeAsync(string path, string? token)
    {
        var started = Stopwatch.GetTimestamp();
        var response = await GetAsync(path, token);
        return (response, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>The Information-and-above <c>TokenRefused</c> records.</summary>
    public IReadOnlyList<FakeLogRecord> Refusals() =>
        [.. Logs.GetSnapshot().Where(r => r.Id.Name == "TokenRefused" && r.Level >= LogLevel.Information)];

    /// <summary>The failure measurements of <c>kubesa.tokens.validated</c>, by scheme tag.</summary>
    public IReadOnlyList<string?> FailureMetrics() =>
        [.. Tokens.GetMeasurementSnapshot().Where(m => Equals(m.Tags["result"], "failure")).Select(m => m.Tags["scheme"] as string)];

    public async ValueTask DisposeAsync()
    {
        Tokens.Dispose();
        Client.Dispose();
        await _app.DisposeAsync();
    }

    private static IResult Describe(ClaimsPrincipal user)
    {
        var caller = user.GetKubernetesServiceAccount();
        return Results.Text(caller is null ? "?" : $"{caller.Cluster}/{caller.Namespace}");
    }
}
