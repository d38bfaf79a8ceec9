// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace KubeSaAuth.Tests.Keys;

/// <summary>
/// Issue 3 §2, §3, §5: 503s and hangs mid-run (stale while error, one attempt per interval), a known-key
/// request never waiting for a hanging fetch, the <c>MaxKeyFetchWait</c> bound, cold start with back-off,
/// and <c>WarmUpOnStartup</c>. The clock is fake: a request that completes while the fake clock stands
/// still and the API server holds the fetch did not wait for the fetch.
/// </summary>
public sealed class KeyOutageTests(ITestOutputHelper output)
{
    private static readonly KubernetesServiceAccountOptions Defaults = new();

    [Fact]
    public async Task Issuer_answering_503_mid_run_keeps_known_keys_working_with_one_attempt_per_interval()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        var known = api.Issuer.CreateToken().WithLifetime(TimeSpan.FromHours(2)).Build();
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(known)).Status);
        var foreign = TestSigningKey.Create();
        var rogue = Enumerable.Range(0, 20).Select(i => api.Issuer.CreateToken().SignedWith(foreign).WithKeyId($"rogue-{i}").Build()).ToArray();

        api.Mode = ApiServerMode.Unavailable;
        time.Advance(Defaults.AutomaticRefreshInterval);
        await host.Keys.InflightFetch;
        var attemptsAtOutage = api.DiscoveryRequests;
        const int Seconds = 60;
        var known200 = 0;
        for (var second = 0; second < Seconds; second++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            var outcomes = await Task.WhenAll(rogue.Select(host.SendAsync).Append(host.SendAsync(known)));
            known200 += outcomes.Count(o => o.Status == HttpStatusCode.OK);
            Assert.All(outcomes, o => Assert.True((int)o.Status < 500));
            await host.Keys.InflightFetch;
        }

        var attempts = api.DiscoveryRequests - attemptsAtOutage;
        Assert.Equal(Seconds, known200);
        Assert.InRange(attempts, 1, (Seconds / (int)Defaults.RefreshInterval.TotalSeconds) + 1);
        Assert.True(host.Keys.GetStatus().IsStale);
        output.WriteLine($"503 for {Seconds} s with {Seconds * 21} requests (20 unknown kids + 1 known per second): {attempts} fetch attempts; known-key requests answered 200: {known200}/{Seconds}.");

        api.Mode = ApiServerMode.Ok;
        time.Advance(Defaults.RefreshInterval);
        await host.Keys.InflightFetch;
        Assert.False(host.Keys.GetStatus().IsStale);
    }

    [Fact]
    public async Task Known_key_request_does_not_wait_for_a_hanging_fetch()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        var known = api.Issuer.CreateToken().WithLifetime(TimeSpan.FromHours(2)).Build();
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(known)).Status);

        api.Mode = ApiServerMode.Hang;
        time.Advance(Defaults.AutomaticRefreshInterval);
        await api.HangReached;
        var fetch = host.Keys.InflightFetch;
        Assert.False(fetch.IsCompleted);

        // Another token of the same key (no cache hit): answered while the fetch is held and the clock stands still.
        var outcome = await host.SendAsync(api.Issuer.CreateToken("other").WithLifetime(TimeSpan.FromHours(2)).Build());

        Assert.Equal(HttpStatusCode.OK, outcome.Status);
        Assert.False(fetch.IsCompleted);
        Assert.Equal(2, api.DiscoveryRequests);
        api.ReleaseHanging();
    }

    [Fact]
    public async Task Request_needing_a_fetch_waits_at_most_MaxKeyFetchWait_while_the_fetch_goes_on()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        api.Mode = ApiServerMode.Hang;

        var pending = host.SendAsync(api.Issuer.CreateToken().Build());
        await api.HangReached;
        time.Advance(Defaults.MaxKeyFetchWait - TimeSpan.FromMilliseconds(1));
        var early = await Task.WhenAny(pending, Task.Delay(200));
        Assert.NotSame(pending, early);

        time.Advance(TimeSpan.FromMilliseconds(1));
        var outcome = await pending;

        Assert.Equal(HttpStatusCode.Unauthorized, outcome.Status);
        Assert.Equal(KubernetesTokenFailureReason.KeysUnavailable, outcome.Reason);
        Assert.False(host.Keys.InflightFetch.IsCompleted);
        Assert.Equal(1, api.DiscoveryRequests);

        // The held fetch completes later and serves the next request, with no new attempt.
        api.Mode = ApiServerMode.Ok;
        api.ReleaseHanging();
        await host.Keys.InflightFetch;
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(api.Issuer.CreateToken().Build())).Status);
        Assert.Equal(1, api.DiscoveryRequests);
    }

    [Fact]
    public async Task Unknown_kid_during_a_hanging_fetch_joins_it_and_is_refused_after_MaxKeyFetchWait()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(api.Issuer.CreateToken().Build())).Status);
        time.Advance(Defaults.RefreshInterval);
        api.Mode = ApiServerMode.Hang;

        var rogue = Task.WhenAll(Enumerable.Range(0, 50).Select(i => host.SendAsync(api.Issuer.CreateToken().WithKeyId($"rogue-{i}").Build())));
        await api.HangReached;
        var waited = await host.AdvanceUntilAsync(rogue, TimeSpan.FromSeconds(1), Defaults.BackchannelTimeout - TimeSpan.FromSeconds(1));
        var outcomes = await rogue;
        Assert.False(host.Keys.InflightFetch.IsCompleted);
        Assert.InRange(waited, Defaults.MaxKeyFetchWait, Defaults.BackchannelTimeout - TimeSpan.FromSeconds(1));

        Assert.All(outcomes, o => Assert.Equal(KubernetesTokenFailureReason.UnknownKey, o.Reason));
        Assert.Equal(2, api.DiscoveryRequests);

        // The hanging fetch is abandoned after BackchannelTimeout; the keys in hand keep working.
        time.Advance(Defaults.BackchannelTimeout - waited);
        await host.Keys.InflightFetch;
        Assert.True(host.Keys.GetStatus().IsStale);
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(api.Issuer.CreateToken("x").Build())).Status);
        api.ReleaseHanging();
    }

    [Fact]
    public async Task Hanging_issuer_costs_one_attempt_per_interval()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        var knownToken = api.Issuer.CreateToken().WithLifetime(TimeSpan.FromHours(2)).Build();
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(knownToken)).Status);
        api.Mode = ApiServerMode.Hang;
        time.Advance(Defaults.AutomaticRefreshInterval);

        const int Seconds = 60;
        var known200 = 0;
        var requests = 0;
        var elapsed = TimeSpan.Zero;
        var batch = 0;
        while (elapsed < TimeSpan.FromSeconds(Seconds))
        {
            // The known-key request is answered with the clock standing still, while a fetch may hang.
            var known = await host.SendAsync(knownToken);
            known200 += known.Status == HttpStatusCode.OK ? 1 : 0;
            var rogue = Task.WhenAll(Enumerable.Range(0, 5).Select(i => host.SendAsync(api.Issuer.CreateToken().WithKeyId($"rogue-{batch}-{i}").Build())));
            batch++;
            requests += 6;
            elapsed += await host.AdvanceUntilAsync(rogue, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
            Assert.All(await rogue, o => Assert.Equal(KubernetesTokenFailureReason.UnknownKey, o.Reason));
            time.Advance(TimeSpan.FromSeconds(1));
            elapsed += TimeSpan.FromSeconds(1);
        }

        var attempts = api.DiscoveryRequests - 1;
        Assert.Equal(batch, known200);

        // Each attempt hangs for BackchannelTimeout (10 s) and the next waits RefreshInterval after it started.
        Assert.InRange(attempts, 1, (Seconds / (int)Defaults.RefreshInterval.TotalSeconds) + 1);
        output.WriteLine($"Hanging issuer for {elapsed.TotalSeconds} s with {requests} requests: {attempts} fetch attempts; known-key requests answered 200: {known200}/{batch}.");
        api.ReleaseHanging();
    }

    [Fact]
    public async Task Cold_start_with_the_issuer_down_backs_off_and_resumes_when_it_comes_back()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time) { Mode = ApiServerMode.Unavailable };
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        var token = api.Issuer.CreateToken().WithLifetime(TimeSpan.FromHours(2)).Build();

        var first = await host.SendAsync(token);
        Assert.Equal(KubernetesTokenFailureReason.KeysUnavailable, first.Reason);
        await host.Keys.InflightFetch;
        var attemptTimes = new List<int> { 0 };
        var upAt = 28;
        int? resumedAt = null;
        for (var second = 1; second <= 40 && resumedAt is null; second++)
        {
            if (second == upAt)
            {
                api.Mode = ApiServerMode.Ok;
            }

            var before = api.DiscoveryRequests;
            time.Advance(TimeSpan.FromSeconds(1));
            var outcome = await host.SendAsync(token);
            await host.Keys.InflightFetch;
            if (api.DiscoveryRequests > before)
            {
                attemptTimes.Add(second);
            }

            if (outcome.Status == HttpStatusCode.OK || host.Keys.Current is not null)
            {
                resumedAt = second;
            }
        }

        output.WriteLine($"Cold start, issuer down until t={upAt}s: attempts at t={string.Join(", ", attemptTimes)} s; serving from t={resumedAt} s.");

        // Back-off 1, 2, 4, 8 s, then capped at RefreshInterval (10 s).
        Assert.Equal([0, 1, 3, 7, 15, 25, 35], attemptTimes);
        Assert.Equal(35, resumedAt);
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(token)).Status);
    }

    [Fact]
    public async Task App_starts_while_the_issuer_is_down()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time) { Mode = ApiServerMode.Unavailable };

        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        var outcome = await host.SendAsync(api.Issuer.CreateToken().Build());

        Assert.Equal(HttpStatusCode.Unauthorized, outcome.Status);
        Assert.Equal(KubernetesTokenFailureReason.KeysUnavailable, outcome.Reason);
        // The fetch error (address, status) is for the logs, not for an unauthenticated caller.
        Assert.DoesNotContain("503", outcome.Description, StringComparison.Ordinal);
        Assert.Contains("retry", outcome.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WarmUpOnStartup_fetches_before_the_host_has_started()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);

        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            api.Configure(o);
            o.WarmUpOnStartup = true;
        });
        var fetchedBeforeFirstRequest = api.TotalRequests;
        var outcome = await host.SendAsync(api.Issuer.CreateToken().Build());

        Assert.Equal(2, fetchedBeforeFirstRequest);
        Assert.Equal(HttpStatusCode.OK, outcome.Status);
        Assert.Equal(2, api.TotalRequests);
    }

    [Fact]
    public async Task Without_WarmUpOnStartup_nothing_is_fetched_before_the_first_request()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);

        await using var host = await KeysTestHost.StartAsync(time, api.Configure);

        Assert.Equal(0, api.TotalRequests);
    }

    [Fact]
    public async Task WarmUpOnStartup_with_a_hanging_issuer_starts_the_host_after_BackchannelTimeout()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time) { Mode = ApiServerMode.Hang };
        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            api.Configure(o);
            o.WarmUpOnStartup = true;
        }, start: false);

        var starting = host.StartHostAsync();
        await api.HangReached;
        Assert.False(starting.IsCompleted);
        time.Advance(Defaults.BackchannelTimeout);
        await starting;

        Assert.Equal(1, api.DiscoveryRequests);
        Assert.Equal(1, host.Keys.GetStatus().ConsecutiveFailures);
        api.Mode = ApiServerMode.Unavailable;
        api.ReleaseHanging();
        Assert.Equal(KubernetesTokenFailureReason.KeysUnavailable, (await host.SendAsync(api.Issuer.CreateToken().Build())).Reason);
    }

    [Fact]
    public async Task WarmUpOnStartup_with_the_issuer_down_still_starts_the_host()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time) { Mode = ApiServerMode.Unavailable };

        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            api.Configure(o);
            o.WarmUpOnStartup = true;
        });

        Assert.Equal(1, api.DiscoveryRequests);
        Assert.Equal(1, host.Keys.GetStatus().ConsecutiveFailures);
    }

    [Fact]
    public async Task Shutting_down_during_a_hanging_fetch_is_not_reported_as_a_fetch_failure()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time) { Mode = ApiServerMode.Hang };
        var host = await KeysTestHost.StartAsync(time, api.Configure, services: s => s.AddLogging(b => b.AddFakeLogging()));
        var logs = host.Services.GetFakeLogCollector();
        var pending = host.SendAsync(api.Issuer.CreateToken().Build());
        await api.HangReached;
        time.Advance(Defaults.MaxKeyFetchWait);
        await pending;
        var fetch = host.Keys.InflightFetch;

        await host.DisposeAsync();
        await fetch;

        Assert.DoesNotContain(logs.GetSnapshot(), r => r.Id.Name == "KeyFetchFailed");
        api.ReleaseHanging();
    }
}
