// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Caching;
using KubeSaAuth.Schemes;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace KubeSaAuth.Tests.Keys;

/// <summary>
/// Issue 3 §1, §2, §4: refresh on unknown kid (single flight, throttled), known keys never wait, rotation.
/// WireMock plays the API server and counts every request; the clock is fake, so nothing depends on timing.
/// </summary>
public sealed class KeyRefreshTests(ITestOutputHelper output)
{
    private static readonly TimeSpan RefreshInterval = new KubernetesServiceAccountOptions().RefreshInterval;

    internal static FakeTimeProvider NewClock() => new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Flood_of_unknown_kids_costs_at_most_one_fetch_per_RefreshInterval()
    {
        const int PerRound = 300;
        const int Rounds = 3;
        var time = NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(api.Issuer.CreateToken().Build())).Status);
        Assert.Equal(1, api.DiscoveryRequests);

        var foreign = TestSigningKey.Create();
        var rogue = Enumerable.Range(0, PerRound)
            .Select(i => api.Issuer.CreateToken().SignedWith(foreign).WithKeyId($"rogue-{i}").Build())
            .ToArray();

        // Within RefreshInterval of the last fetch: refused without any fetch.
        var outcomes = await Task.WhenAll(rogue.Select(host.SendAsync));
        Assert.All(outcomes, o => Assert.Equal(KubernetesTokenFailureReason.UnknownKey, o.Reason));
        Assert.Equal(1, api.DiscoveryRequests);

        for (var round = 1; round <= Rounds; round++)
        {
            time.Advance(RefreshInterval);
            outcomes = await Task.WhenAll(rogue.Select(host.SendAsync));
            Assert.All(outcomes, o => Assert.Equal(HttpStatusCode.Unauthorized, o.Status));
            Assert.All(outcomes, o => Assert.Equal(KubernetesTokenFailureReason.UnknownKey, o.Reason));
            await host.Keys.InflightFetch;
            Assert.Equal(1 + round, api.DiscoveryRequests);
        }

        output.WriteLine($"{PerRound * (Rounds + 1)} unknown-kid requests over {Rounds} intervals: {api.DiscoveryRequests - 1} fetches, {api.TotalRequests - 2} requests to the API server.");
    }

    [Fact]
    public async Task Known_key_requests_never_fetch()
    {
        var time = NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        var tokens = Enumerable.Range(0, 50).Select(i => api.Issuer.CreateToken($"ns-{i}").Build()).ToArray();

        var outcomes = await Task.WhenAll(tokens.Select(host.SendAsync));
        time.Advance(RefreshInterval * 3);
        outcomes = [.. outcomes, .. await Task.WhenAll(tokens.Select(host.SendAsync))];

        Assert.All(outcomes, o => Assert.Equal(HttpStatusCode.OK, o.Status));
        Assert.Equal(1, api.DiscoveryRequests);
        Assert.Equal(1, api.JwksRequests);
    }

    [Fact]
    public async Task Concurrent_first_requests_share_one_fetch()
    {
        var time = NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        var tokens = Enumerable.Range(0, 100).Select(i => api.Issuer.CreateToken($"ns-{i}").Build()).ToArray();

        var outcomes = await Task.WhenAll(tokens.Select(host.SendAsync));

        Assert.All(outcomes, o => Assert.Equal(HttpStatusCode.OK, o.Status));
        Assert.Equal(1, api.DiscoveryRequests);
    }

    [Fact]
    public async Task Rotated_in_key_works_on_first_sight()
    {
        var time = NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(api.Issuer.CreateToken().Build())).Status);
        time.Advance(RefreshInterval);

        api.Issuer.AddKey();
        var first = await host.SendAsync(api.Issuer.CreateToken().Build());
        var second = await host.SendAsync(api.Issuer.CreateToken().Build());

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(HttpStatusCode.OK, second.Status);
        Assert.Equal(2, api.DiscoveryRequests);
    }

    [Fact]
    public async Task Rotated_in_key_within_RefreshInterval_of_a_fetch_is_picked_up_once_the_interval_passed()
    {
        var time = NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(api.Issuer.CreateToken().Build())).Status);

        api.Issuer.AddKey();
        var early = await host.SendAsync(api.Issuer.CreateToken().Build());
        time.Advance(RefreshInterval);
        var later = await host.SendAsync(api.Issuer.CreateToken().Build());

        Assert.Equal(KubernetesTokenFailureReason.UnknownKey, early.Reason);
        Assert.Equal(HttpStatusCode.OK, later.Status);
        Assert.Equal(2, api.DiscoveryRequests);
    }

    [Fact]
    public async Task Removed_key_is_refused_at_once_after_a_successful_fetch_even_when_cached()
    {
        var time = NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        var oldKey = api.Issuer.ActiveKey;
        var token = api.Issuer.CreateToken().WithLifetime(TimeSpan.FromHours(2)).Build();
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(token)).Status);
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(token)).Status);
        var cache = Runtime(host).Cache!;
        Assert.Equal(1, cache.Count);

        api.Issuer.AddKey();
        api.Issuer.RemoveKey(oldKey);
        time.Advance(new KubernetesServiceAccountOptions().AutomaticRefreshInterval);
        await host.Keys.InflightFetch;
        var refused = await host.SendAsync(token);
        var fresh = await host.SendAsync(api.Issuer.CreateToken().Build());

        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.Equal(KubernetesTokenFailureReason.UnknownKey, refused.Reason);
        Assert.Equal(HttpStatusCode.OK, fresh.Status);

        // The removed key triggered no fetch of its own: one initial, one periodic.
        Assert.Equal(2, api.DiscoveryRequests);
        output.WriteLine($"Removed key refused right after the periodic refresh ({new KubernetesServiceAccountOptions().AutomaticRefreshInterval}); API server requests: {api.TotalRequests}.");
    }

    [Fact]
    public async Task Removed_key_stays_refused_while_later_fetches_fail()
    {
        var time = NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        var oldKey = api.Issuer.ActiveKey;
        var token = api.Issuer.CreateToken().WithLifetime(TimeSpan.FromHours(2)).Build();
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(token)).Status);

        api.Issuer.AddKey();
        api.Issuer.RemoveKey(oldKey);
        time.Advance(new KubernetesServiceAccountOptions().AutomaticRefreshInterval);
        await host.Keys.InflightFetch;
        api.Mode = ApiServerMode.Unavailable;
        for (var i = 0; i < 5; i++)
        {
            time.Advance(new KubernetesServiceAccountOptions().AutomaticRefreshInterval);
            await host.Keys.InflightFetch;
        }

        Assert.True(host.Keys.GetStatus().IsStale);
        Assert.Equal(KubernetesTokenFailureReason.UnknownKey, (await host.SendAsync(token)).Reason);
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(api.Issuer.CreateToken().Build())).Status);
    }

    [Fact]
    public async Task Key_set_that_loses_a_key_raises_the_trust_epoch()
    {
        var time = NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(api.Issuer.CreateToken().Build())).Status);
        var before = host.Keys.Current!;

        var added = api.Issuer.AddKey(activate: false);
        time.Advance(new KubernetesServiceAccountOptions().AutomaticRefreshInterval);
        await host.Keys.InflightFetch;
        var afterAdd = host.Keys.Current!;
        api.Issuer.RemoveKey(added);
        time.Advance(new KubernetesServiceAccountOptions().AutomaticRefreshInterval);
        await host.Keys.InflightFetch;
        var afterRemove = host.Keys.Current!;

        Assert.Equal(before.TrustEpoch, afterAdd.TrustEpoch);
        Assert.Equal(before.TrustEpoch + 1, afterRemove.TrustEpoch);
    }

    [Fact]
    public void Validation_cache_refuses_entries_of_an_older_trust_epoch()
    {
        var time = NewClock();
        var options = new KubernetesServiceAccountOptions();
        var cache = new KubeSaAuth.Caching.ValidationCache(options, time);
        var account = new KubernetesServiceAccount { Namespace = "ns", Name = "sa", Issuer = "i", Cluster = "c", ExpiresAt = time.GetUtcNow().AddHours(1) };
        const string token = "a.b.c";

        // The cache admits a token on its second successful validation.
        cache.AddValidated(token, account, trustEpoch: 3);
        Assert.True(cache.AddValidated(token, account, trustEpoch: 3));

        Assert.True(cache.TryGet(token, 3, out _));
        Assert.False(cache.TryGet(token, 4, out _));
    }

    internal static KubeSaAuth.Schemes.SchemeRuntime Runtime(KeysTestHost host) =>
        Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<KubernetesServiceAccountOptions>>(host.Services)
            .Get(KubernetesServiceAccountDefaults.AuthenticationScheme).Runtime!;
}
