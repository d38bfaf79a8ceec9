// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Xunit.Abstractions;

namespace KubeSaAuth.Tests.Schemes;

/// <summary>
/// One cluster's trouble never reaches another cluster's callers: cluster A's API server (WireMock.Net)
/// hangs, refuses connections or answers 503 — before its first fetch (cold) or after its keys were in hand
/// (warm, then tokens of a new <c>kid</c> make it fetch again) — while the other clusters' requests are
/// timed. Cluster A's callers wait up to its <c>MaxKeyFetchWait</c> and <c>BackchannelTimeout</c> of 60 s,
/// and a hanging fetch of A is held until every other request is done. A request of another cluster that
/// waited for A would therefore take 60 s; the bound below (20 s) fails the test if any does. The bound is
/// far from what a loaded CI machine costs a healthy request (6 s has been seen, with A healthy too), so it
/// tests the cause, not the machine. The figures go to the test output (docs/resilience.md, "Several clusters").
/// </summary>
public sealed class ClusterIsolationTests(ITestOutputHelper output)
{
    private static readonly TimeSpan FetchWaitOfA = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private const int Rounds = 25;

    public enum Trouble
    {
        Hang,
        Refuse,
        Unavailable,
    }

    [Theory]
    [InlineData(2, Trouble.Hang, false)]
    [InlineData(2, Trouble.Hang, true)]
    [InlineData(2, Trouble.Refuse, false)]
    [InlineData(2, Trouble.Refuse, true)]
    [InlineData(2, Trouble.Unavailable, false)]
    [InlineData(2, Trouble.Unavailable, true)]
    [InlineData(3, Trouble.Hang, false)]
    [InlineData(3, Trouble.Hang, true)]
    [InlineData(3, Trouble.Refuse, false)]
    [InlineData(3, Trouble.Refuse, true)]
    [InlineData(3, Trouble.Unavailable, false)]
    [InlineData(3, Trouble.Unavailable, true)]
    public async Task Other_clusters_answer_promptly_while_cluster_a_is_in_trouble(int count, Trouble trouble, bool warm)
    {
        var servers = Enumerable.Range(0, count).ToDictionary(i => $"cluster-{(char)('a' + i)}", _ => FakeApiServer.ForCluster());
        try
        {
            var a = servers["cluster-a"];
            var healthy = servers.Where(s => s.Key != "cluster-a").ToArray();
            if (!warm)
            {
                Break(a, trouble);
            }

            await using var host = await ClustersHost.StartAsync(
                [.. servers.Keys],
                (name, o) =>
                {
                    servers[name].Configure(o);
                    o.RefreshInterval = TimeSpan.FromSeconds(1);

                    // The healthy clusters' warm-up (not measured) may wait long for its keys on a starved machine.
                    o.MaxKeyFetchWait = TimeSpan.FromSeconds(30);
                    if (name == "cluster-a")
                    {
                        o.MaxKeyFetchWait = FetchWaitOfA;
                        o.BackchannelTimeout = FetchWaitOfA;
                    }
                },
                map: app =>
                {
                    ClustersHost.MapGuarded(app, "/p", "namespace:team-x");
                    ClustersHost.MapGuarded(app, "/b", "namespace:team-x@cluster-b");
                });

            // The healthy clusters' keys are in hand (their own cold start is not what is measured); warm: A's too.
            KeyValuePair<string, FakeApiServer>[] warmUp = warm ? [.. servers] : healthy;
            foreach (var (_, server) in warmUp)
            {
                using var first = await host.GetAsync("/p", server.Issuer.CreateToken("team-x").Build());
                Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            }

            var baseline = await TimeHealthyAsync(host, healthy, aTraffic: null);
            if (warm)
            {
                Break(a, trouble);

                // An unknown kid is fetched for at most once per RefreshInterval (1 s), counted from the warm-up fetch.
                await Task.Delay(TimeSpan.FromSeconds(1.5));
            }

            // Cluster A's callers keep coming, with a kid it has not seen (warm) so that each needs a fetch.
            var aRequests = new List<Task<HttpResponseMessage>>();
            Func<Task<HttpResponseMessage>> aCaller = () => host.GetAsync("/p", (warm ? a.Issuer.CreateToken("team-x").WithKeyId("rotated-kid") : a.Issuer.CreateToken("team-x")).Build());
            aRequests.Add(aCaller());
            if (trouble == Trouble.Hang)
            {
                // A's fetch is in flight and held: every A request now waits for it.
                await a.HangReached.WaitAsync(TimeSpan.FromSeconds(30));
            }

            var during = await TimeHealthyAsync(host, healthy, () => aRequests.Add(aCaller()));
            a.ReleaseHanging();
            var aResponses = await Task.WhenAll(aRequests);

            output.WriteLine($"clusters={count} trouble={trouble} {(warm ? "warm" : "cold")}: other clusters' requests (n={during.Count}) " +
                $"with A healthy p50={Ms(baseline, 0.5)} max={Ms(baseline, 1)}; with A in trouble p50={Ms(during, 0.5)} p99={Ms(during, 0.99)} max={Ms(during, 1)} (ms)");
            Assert.All(during, d => Assert.True(d < Bound, $"a request of another cluster took {d.TotalMilliseconds:F0} ms while cluster A was in trouble"));

            // A's own callers: refused, one challenge each; every refusal and failure metric is A's.
            foreach (var response in aResponses)
            {
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
                Assert.StartsWith("error=\"invalid_token\"", Assert.Single(response.Headers.WwwAuthenticate).Parameter, StringComparison.Ordinal);
                response.Dispose();
            }

            Assert.All(host.Refusals(), r => Assert.Equal(a.Issuer.Issuer, r.StructuredState!.Single(kv => kv.Key == "Issuer").Value));
            Assert.All(host.FailureMetrics(), scheme => Assert.Equal("cluster-a", scheme));
            Assert.All(healthy, s => Assert.Equal(1, s.Value.DiscoveryRequests));
        }
        finally
        {
            foreach (var server in servers.Values)
            {
                server.Dispose();
            }
        }
    }

    [Fact]
    public async Task Good_token_of_cluster_a_draws_no_refusal_from_the_other_clusters_even_while_they_are_down()
    {
        var servers = Enumerable.Range(0, 3).ToDictionary(i => $"cluster-{(char)('a' + i)}", _ => FakeApiServer.ForCluster());
        try
        {
            servers["cluster-b"].Mode = ApiServerMode.Unavailable;
            servers["cluster-c"].Stop();
            await using var host = await ClustersHost.StartAsync(
                [.. servers.Keys],
                (name, o) => servers[name].Configure(o),
                map: app => ClustersHost.MapGuarded(app, "/p", "namespace:team-x"));

            using var response = await host.GetAsync("/p", servers["cluster-a"].Issuer.CreateToken("team-x").Build());

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Empty(host.Refusals());
            Assert.Empty(host.FailureMetrics());
            Assert.Equal(0, servers["cluster-b"].TotalRequests);
        }
        finally
        {
            foreach (var server in servers.Values)
            {
                server.Dispose();
            }
        }
    }

    private static void Break(FakeApiServer server, Trouble trouble)
    {
        switch (trouble)
        {
            case Trouble.Hang:
                server.Mode = ApiServerMode.Hang;
                break;
            case Trouble.Unavailable:
                server.Mode = ApiServerMode.Unavailable;
                break;
            case Trouble.Refuse:
                // Its loopback port (given by the OS at start) is closed: connections are refused.
                server.Stop();
                break;
        }
    }

    /// <summary>Rounds of one request per healthy cluster (and the <c>@cluster-b</c> endpoint), each timed; <paramref name="aTraffic"/> runs before each round.</summary>
    private static async Task<List<TimeSpan>> TimeHealthyAsync(ClustersHost host, KeyValuePair<string, FakeApiServer>[] healthy, Action? aTraffic)
    {
        var timings = new List<TimeSpan>();
        for (var round = 0; round < Rounds; round++)
        {
            aTraffic?.Invoke();
            foreach (var (name, server) in healthy)
            {
                foreach (var path in name == "cluster-b" ? new[] { "/p", "/b" } : ["/p"])
                {
                    // Built before the clock starts: signing is the test's work, not the server's.
                    var token = server.Issuer.CreateToken("team-x").Build();
                    var (response, elapsed) = await host.TimeAsync(path, token);
                    using (response)
                    {
                        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    }

                    timings.Add(elapsed);
                }
            }
        }

        return timings;
    }

    private static string Ms(List<TimeSpan> timings, double quantile)
    {
        var sorted = timings.Select(t => t.TotalMilliseconds).Order().ToArray();
        var index = Math.Min(sorted.Length - 1, (int)Math.Ceiling(quantile * sorted.Length) - 1);
        return sorted[Math.Max(0, index)].ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
    }
}
