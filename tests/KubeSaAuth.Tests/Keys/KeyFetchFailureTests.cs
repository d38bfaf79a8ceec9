// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using WireMock.Server;
using WireMock.Settings;

namespace KubeSaAuth.Tests.Keys;

/// <summary>
/// Every way a fetch can fail mid-run keeps the keys in hand (stale while error), is logged at Warning
/// with the address, and costs one attempt per interval; an empty key set from a *successful* fetch is
/// a revocation of every key.
/// </summary>
public sealed class KeyFetchFailureTests
{
    private static readonly KubernetesServiceAccountOptions Defaults = new();

    [Theory]
    [InlineData(ApiServerMode.Unavailable, "503")]
    [InlineData(ApiServerMode.Unauthorized, "401")]
    [InlineData(ApiServerMode.NotFound, "404")]
    [InlineData(ApiServerMode.InvalidJson, "not valid JSON")]
    public async Task Failing_fetch_mid_run_keeps_the_keys_in_hand_and_says_why(ApiServerMode failure, string expected)
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure, services: s => s.AddLogging(b => b.AddFakeLogging()));
        var token = api.Issuer.CreateToken().WithLifetime(TimeSpan.FromHours(2)).Build();
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(token)).Status);

        api.Mode = failure;
        time.Advance(Defaults.AutomaticRefreshInterval);
        await host.Keys.InflightFetch;
        var attempts = api.DiscoveryRequests;
        for (var i = 0; i < 9; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(api.Issuer.CreateToken($"ns-{i}").Build())).Status);
            Assert.Equal(KubernetesTokenFailureReason.UnknownKey, (await host.SendAsync(api.Issuer.CreateToken().WithKeyId($"rogue-{i}").Build())).Reason);
            await host.Keys.InflightFetch;
        }

        Assert.Equal(attempts, api.DiscoveryRequests);
        var status = host.Keys.GetStatus();
        Assert.True(status.IsStale);
        Assert.Contains(expected, status.LastError, StringComparison.Ordinal);
        var warning = Assert.Single(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "KeyFetchFailed");
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(api.Url, warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connection_refused_at_cold_start_is_refused_with_KeysUnavailable_and_reported()
    {
        var closed = WireMockServer.Start(new WireMockServerSettings { Urls = ["http://127.0.0.1:0"] });
        var address = closed.Url!;
        closed.Stop();
        closed.Dispose();
        var time = KeyRefreshTests.NewClock();
        var issuer = new KubernetesTestIssuer(timeProvider: time);
        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            o.Issuer = issuer.Issuer;
            o.MetadataAddress = address + "/.well-known/openid-configuration";
            o.RequireHttpsMetadata = false;
            o.Audiences.Add("my-api");
        }, services: s => s.AddHealthChecks().AddKubernetesServiceAccountKeys());

        var outcome = await host.SendAsync(issuer.CreateToken().Build());
        var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HttpStatusCode.Unauthorized, outcome.Status);
        Assert.Equal(KubernetesTokenFailureReason.KeysUnavailable, outcome.Reason);
        Assert.Equal(HealthStatus.Unhealthy, health.Status);
    }

    [Fact]
    public async Task Empty_key_set_from_a_successful_fetch_revokes_every_key()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure, services: s => s.AddHealthChecks().AddKubernetesServiceAccountKeys());
        var token = api.Issuer.CreateToken().WithLifetime(TimeSpan.FromHours(2)).Build();
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(token)).Status);

        api.Issuer.RemoveKey(api.Issuer.ActiveKey);
        time.Advance(Defaults.AutomaticRefreshInterval);
        await host.Keys.InflightFetch;

        Assert.Equal(KubernetesTokenFailureReason.UnknownKey, (await host.SendAsync(token)).Reason);
        Assert.Equal(HealthStatus.Unhealthy, (await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Status);
    }
}
