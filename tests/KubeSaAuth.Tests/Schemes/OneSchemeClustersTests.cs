// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics.Metrics;
using System.Net;
using KubeSaAuth.Schemes;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace KubeSaAuth.Tests.Schemes;

/// <summary>
/// One scheme holding several clusters (<c>Clusters</c>): the token's <c>iss</c> picks the one cluster that judges
/// it, whose keys alone are used; one cluster in trouble costs the others nothing, as between schemes
/// (<see cref="ClusterIsolationTests"/>).
/// </summary>
public sealed class OneSchemeClustersTests(ITestOutputHelper output)
{
    private const string Scheme = "k8s";
    // As in ClusterIsolationTests: a request that waited for A would take 60 s, far beyond the bound,
    // and far beyond what a starved CI machine costs a healthy request.
    private static readonly TimeSpan FetchWaitOfA = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private const int Rounds = 25;

    [Fact]
    public async Task Every_clusters_token_is_admitted_and_named_by_its_cluster_also_from_the_cache()
    {
        var issuers = Issuers(10);
        await using var host = await StartAsync(issuers);

        foreach (var (name, issuer) in issuers)
        {
            var token = issuer.CreateToken("team-x").Build();
            for (var i = 0; i < 3; i++)
            {
                // The first two validate (the cache keeps a token on its second validation), the third is a hit.
                using var response = await host.GetAsync("/p", token);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal($"{name}/team-x", await response.Content.ReadAsStringAsync());
            }
        }

        Assert.Equal(10, Runtime(host).Cache!.Count);
        Assert.Empty(host.Refusals());
    }

    [Fact]
    public async Task A_token_naming_another_clusters_issuer_is_refused_whatever_key_signed_it()
    {
        var issuers = Issuers(3);
        await using var host = await StartAsync(issuers);
        using var warm = await host.GetAsync("/p", issuers["c1"].CreateToken("team-x").Build());
        Assert.Equal(HttpStatusCode.OK, warm.StatusCode);

        // Signed by c0's key, naming c1's issuer: only c1's keys judge it.
        using var forged = await host.GetAsync("/p", issuers["c0"].CreateToken("team-x").WithIssuer(issuers["c1"].Issuer).Build());

        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        var refusal = Assert.Single(host.Refusals());
        Assert.Contains(refusal.StructuredState!.Single(kv => kv.Key == "Reason").Value, new[] { nameof(KubernetesTokenFailureReason.UnknownKey), nameof(KubernetesTokenFailureReason.InvalidSignature) });
    }

    [Fact]
    public async Task A_token_of_no_cluster_gets_one_refusal_whose_log_alone_names_the_first_accepted_issuers_and_their_count()
    {
        var issuers = Issuers(8);
        await using var host = await StartAsync(issuers);
        await using var stranger = new KubernetesTestIssuer("https://stranger.example");

        using var response = await host.GetAsync("/p", stranger.CreateToken("team-x").Build());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = Assert.Single(response.Headers.WwwAuthenticate).Parameter!;
        Assert.All(issuers.Values, i => Assert.DoesNotContain(i.Issuer, challenge, StringComparison.Ordinal));
        var log = Assert.Single(host.Refusals()).Message;
        Assert.Contains("(8 in all)", log, StringComparison.Ordinal);
        Assert.Equal(IssuerRouter.LoggedIssuers, issuers.Values.Count(i => log.Contains($"'{i.Issuer}'", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task The_token_metric_carries_the_cluster()
    {
        var issuers = Issuers(2);
        await using var host = await StartAsync(issuers);

        using var response = await host.GetAsync("/p", issuers["c1"].CreateToken("team-x").Build());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var measurement = Assert.Single(host.Tokens.GetMeasurementSnapshot());
        Assert.Equal("c1", measurement.Tags["cluster"]);
        Assert.Equal(Scheme, measurement.Tags["scheme"]);
    }

    [Fact]
    public async Task The_key_metrics_carry_the_scheme_and_the_cluster_apart()
    {
        var issuers = Issuers(2);
        issuers["c1"].AddKey(activate: false);
        await using var host = await StartAsync(issuers);
        var meters = host.Services.GetRequiredService<IMeterFactory>();
        using var fetches = new MetricCollector<long>(meters, "KubeSaAuth", "kubesa.keys.fetches");
        using var count = new MetricCollector<int>(meters, "KubeSaAuth", "kubesa.keys.count");
        using var stale = new MetricCollector<int>(meters, "KubeSaAuth", "kubesa.keys.stale");

        foreach (var issuer in issuers.Values)
        {
            using var response = await host.GetAsync("/p", issuer.CreateToken("team-x").Build());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        count.RecordObservableInstruments();
        stale.RecordObservableInstruments();
        var keys = count.GetMeasurementSnapshot().ToDictionary(m => (string)m.Tags["cluster"]!, m => (Scheme: m.Tags["scheme"], m.Value));
        Assert.Equal((Scheme, 1), keys["c0"]);
        Assert.Equal((Scheme, 2), keys["c1"]);
        Assert.All(stale.GetMeasurementSnapshot(), m => Assert.Equal(Scheme, m.Tags["scheme"]));
        Assert.Equal(["c0", "c1"], stale.GetMeasurementSnapshot().Select(m => (string)m.Tags["cluster"]!).Order());
        Assert.Equal(["c0", "c1"], fetches.GetMeasurementSnapshot().Select(m => (string)m.Tags["cluster"]!).Order());
        Assert.All(fetches.GetMeasurementSnapshot(), m => Assert.Equal(Scheme, m.Tags["scheme"]));
    }

    [Theory]
    [InlineData(ClusterIsolationTests.Trouble.Hang, false)]
    [InlineData(ClusterIsolationTests.Trouble.Hang, true)]
    [InlineData(ClusterIsolationTests.Trouble.Refuse, false)]
    [InlineData(ClusterIsolationTests.Trouble.Refuse, true)]
    [InlineData(ClusterIsolationTests.Trouble.Unavailable, false)]
    [InlineData(ClusterIsolationTests.Trouble.Unavailable, true)]
    public async Task Other_clusters_of_the_scheme_answer_promptly_while_cluster_a_is_in_trouble(ClusterIsolationTests.Trouble trouble, bool warm)
    {
        var servers = Enumerable.Range(0, 3).ToDictionary(i => $"cluster-{(char)('a' + i)}", _ => FakeApiServer.ForCluster());
        try
        {
            var a = servers["cluster-a"];
            var healthy = servers.Where(s => s.Key != "cluster-a").ToArray();
            if (!warm)
            {
                Break(a, trouble);
            }

            await using var host = await ClustersHost.StartAsync(
                [Scheme],
                (_, o) =>
                {
                    o.Audiences.Add("my-api");
                    o.RefreshInterval = TimeSpan.FromSeconds(1);
                    foreach (var (name, server) in servers)
                    {
                        o.Clusters.Add(name, c =>
                        {
                            server.Configure(c);

                            // The healthy clusters' warm-up (not measured) may wait long for its keys on a starved machine.
                            c.MaxKeyFetchWait = TimeSpan.FromSeconds(30);
                            if (name == "cluster-a")
                            {
                                c.MaxKeyFetchWait = FetchWaitOfA;
                                c.BackchannelTimeout = FetchWaitOfA;
                            }
                        });
                    }
                },
                map: app => ClustersHost.MapGuarded(app, "/p", "namespace:team-x"));

            KeyValuePair<string, FakeApiServer>[] warmUp = warm ? [.. servers] : healthy;
            foreach (var (_, server) in warmUp)
            {
                using var first = await host.GetAsync("/p", server.Issuer.CreateToken("team-x").Build());
                Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            }

            if (warm)
            {
                Break(a, trouble);
                await Task.Delay(TimeSpan.FromSeconds(1.5));
            }

            var aRequests = new List<Task<HttpResponseMessage>>();
            Func<Task<HttpResponseMessage>> aCaller = () => host.GetAsync("/p", (warm ? a.Issuer.CreateToken("team-x").WithKeyId("rotated-kid") : a.Issuer.CreateToken("team-x")).Build());
            aRequests.Add(aCaller());
            if (trouble == ClusterIsolationTests.Trouble.Hang)
            {
                await a.HangReached.WaitAsync(TimeSpan.FromSeconds(30));
            }

            var during = new List<TimeSpan>();
            for (var round = 0; round < Rounds; round++)
            {
                aRequests.Add(aCaller());
                foreach (var (name, server) in healthy)
                {
                    var (response, elapsed) = await host.TimeAsync("/p", server.Issuer.CreateToken("team-x").Build());
                    using (response)
                    {
                        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                        Assert.Equal($"{name}/team-x", await response.Content.ReadAsStringAsync());
                    }

                    during.Add(elapsed);
                }
            }

            a.ReleaseHanging();
            var aResponses = await Task.WhenAll(aRequests);
            during.Sort();
            output.WriteLine($"trouble={trouble} {(warm ? "warm" : "cold")}: other clusters' requests (n={during.Count}) p50={during[during.Count / 2].TotalMilliseconds:F1} max={during[^1].TotalMilliseconds:F1} ms");
            Assert.All(during, d => Assert.True(d < Bound, $"a request of another cluster took {d.TotalMilliseconds:F0} ms while cluster A was in trouble"));
            foreach (var response in aResponses)
            {
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
                response.Dispose();
            }

            Assert.All(host.Refusals(), r => Assert.Equal(a.Issuer.Issuer, r.StructuredState!.Single(kv => kv.Key == "Issuer").Value));
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

    private static void Break(FakeApiServer server, ClusterIsolationTests.Trouble trouble)
    {
        switch (trouble)
        {
            case ClusterIsolationTests.Trouble.Hang:
                server.Mode = ApiServerMode.Hang;
                break;
            case ClusterIsolationTests.Trouble.Unavailable:
                server.Mode = ApiServerMode.Unavailable;
                break;
            case ClusterIsolationTests.Trouble.Refuse:
                server.Stop();
                break;
        }
    }

    private static Dictionary<string, KubernetesTestIssuer> Issuers(int count) =>
        Enumerable.Range(0, count).ToDictionary(i => $"c{i}", i => new KubernetesTestIssuer($"https://cluster-{i}.example"));

    private static Task<ClustersHost> StartAsync(Dictionary<string, KubernetesTestIssuer> issuers) =>
        ClustersHost.StartAsync(
            [Scheme],
            (_, o) =>
            {
                o.Audiences.Add("my-api");
                foreach (var (name, issuer) in issuers)
                {
                    o.Clusters.Add(name, c => issuer.ConfigureCluster(c, inProcess: true));
                }
            },
            map: app => ClustersHost.MapGuarded(app, "/p", "namespace:team-x"));

    private static SchemeRuntime Runtime(ClustersHost host) =>
        host.Services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(Scheme).Runtime!;
}
