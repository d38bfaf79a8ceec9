// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Net.Http.Headers;
using KubeSaAuth.Caching;
using KubeSaAuth.Schemes;
using KubeSaAuth.Testing;
using KubeSaAuth.Tokens;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>A TestServer host with the handler on a fake clock, an in-process issuer and a namespace policy.</summary>
internal sealed class CacheTestHost : IAsyncDisposable
{
    public const string Scheme = KubernetesServiceAccountDefaults.AuthenticationScheme;

    private readonly WebApplication _app;
    private readonly MetricCollector<long> _validations;

    private CacheTestHost(WebApplication app, KubernetesTestIssuer issuer, FakeTimeProvider time)
    {
        _app = app;
        Issuer = issuer;
        Time = time;
        Client = app.GetTestClient();
        _validations = new MetricCollector<long>(app.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), KubernetesServiceAccountDefaults.TelemetryName, "kubesa.tokens.validated");
    }

    public KubernetesTestIssuer Issuer { get; }

    public FakeTimeProvider Time { get; }

    public HttpClient Client { get; }

    public SchemeRuntime Runtime =>
        _app.Services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(Scheme).Runtime
        ?? throw new InvalidOperationException("No request has been made yet.");

    public ValidationCache Cache => Runtime.Cache ?? throw new InvalidOperationException("The cache is disabled.");

    /// <summary>How many requests were answered from the cache.</summary>
    public int Hits => Count("hit");

    /// <summary>How many requests validated their token in full.</summary>
    public int Misses => Count("miss");

    public static async Task<CacheTestHost> StartAsync(Action<KubernetesServiceAccountOptions>? configure = null, Action<KubernetesServiceAccountEvents>? events = null)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero));
        var issuer = new KubernetesTestIssuer(timeProvider: time);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseTestServer();
        builder.Services.AddAuthentication(Scheme).AddKubernetesServiceAccount(o =>
        {
            issuer.Configure(o, inProcess: true);
            o.TimeProvider = time;
            configure?.Invoke(o);
            events?.Invoke(o.Events);
        });
        builder.Services.AddAuthorization();
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/ns", (HttpContext context) => Results.Text(context.User.Identity!.Name)).RequireAuthorization("namespace:my-namespace");
        await app.StartAsync();
        return new CacheTestHost(app, issuer, time);
    }

    public string CreateToken(Func<KubernetesTokenBuilder, KubernetesTokenBuilder>? shape = null)
    {
        var builder = Issuer.CreateToken("my-namespace", "my-service-account");
        return (shape?.Invoke(builder) ?? builder).Build();
    }

    public async Task<HttpStatusCode> SendAsync(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/ns");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await Client.SendAsync(request);
        return response.StatusCode;
    }

    public async Task<HttpStatusCode> SendRawAsync(string authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/ns");
        request.Headers.TryAddWithoutValidation("Authorization", authorization);
        using var response = await Client.SendAsync(request);
        return response.StatusCode;
    }

    public async Task<HttpStatusCode[]> SendTimesAsync(string token, int times)
    {
        var statuses = new HttpStatusCode[times];
        for (var i = 0; i < times; i++)
        {
            statuses[i] = await SendAsync(token);
        }

        return statuses;
    }

    public async ValueTask DisposeAsync()
    {
        _validations.Dispose();
        Client.Dispose();
        await _app.DisposeAsync();
        await Issuer.DisposeAsync();
    }

    private int Count(string cache)
    {
        var total = 0;
        foreach (var measurement in _validations.GetMeasurementSnapshot())
        {
            if (measurement.Tags.TryGetValue("cache", out var value) && Equals(value, cache))
            {
                total += (int)measurement.Value;
            }
        }

        return total;
    }
}
