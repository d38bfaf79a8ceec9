// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.Schemes;

/// <summary>
/// Legacy (secret-based) tokens in one scheme of several clusters. Every cluster signs them with the same issuer,
/// <c>kubernetes/serviceaccount</c>, so the issuer cannot say which cluster judges one: the cluster whose keys
/// hold the token's <c>kid</c> does, and no other cluster's key can admit it.
/// </summary>
public sealed class OneSchemeLegacyTokensTests
{
    private const string Scheme = "k8s";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_legacy_token_is_judged_and_named_by_the_cluster_whose_keys_hold_its_kid(bool warm)
    {
        var issuers = Issuers(3);
        await using var host = await StartAsync(issuers, acceptLegacy: true);
        if (warm)
        {
            foreach (var issuer in issuers.Values)
            {
                using var bound = await host.GetAsync("/p", issuer.CreateToken("team-x").Build());
                Assert.Equal(HttpStatusCode.OK, bound.StatusCode);
            }
        }

        foreach (var name in new[] { "c2", "c0", "c1" })
        {
            using var response = await host.GetAsync("/p", issuers[name].CreateToken("team-x").Legacy().Build());

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"{name}/team-x", await response.Content.ReadAsStringAsync());
        }

        Assert.Empty(host.Refusals());
    }

    [Fact]
    public async Task A_legacy_token_of_a_cold_cluster_does_not_wait_for_a_hanging_cluster()
    {
        using var hanging = FakeApiServer.ForCluster();
        using var healthy = FakeApiServer.ForCluster();
        hanging.Mode = ApiServerMode.Hang;
        await using var host = await ClustersHost.StartAsync(
            [Scheme],
            (_, o) =>
            {
                o.Audiences.Add("my-api");
                o.AcceptLegacyTokens = true;
                o.Clusters.Add("a", c =>
                {
                    hanging.Configure(c);
                    c.MaxKeyFetchWait = c.BackchannelTimeout = TimeSpan.FromMinutes(2);
                });
                o.Clusters.Add("b", healthy.Configure);
            },
            map: app => ClustersHost.MapGuarded(app, "/p", "namespace:team-x"));

        // Cluster a's fetch is held until released below, and a's callers wait for it up to 2 minutes: had b's
        // caller waited for it, the answer would take those 2 minutes, far past the 60 s allowed here.
        using var response = await host.GetAsync("/p", healthy.Issuer.CreateToken("team-x").Legacy().Build()).WaitAsync(TimeSpan.FromSeconds(60));
        var aWasHanging = hanging.HangReached.IsCompleted;
        hanging.ReleaseHanging();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("b/team-x", await response.Content.ReadAsStringAsync());
        Assert.True(aWasHanging, "cluster a's fetch was in flight (held) while b's legacy token was judged");
    }

    [Fact]
    public async Task A_legacy_token_signed_by_one_cluster_under_another_clusters_kid_is_refused()
    {
        var issuers = Issuers(2);
        await using var host = await StartAsync(issuers, acceptLegacy: true);

        using var forged = await host.GetAsync("/p", issuers["c0"].CreateToken("team-x").Legacy().WithKeyId(issuers["c1"].ActiveKey.KeyId).Build());

        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        Assert.DoesNotContain("c0/team-x", await forged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_legacy_token_whose_kid_no_cluster_holds_is_refused()
    {
        var issuers = Issuers(2);
        await using var host = await StartAsync(issuers, acceptLegacy: true);

        using var stranger = await host.GetAsync("/p", issuers["c0"].CreateToken("team-x").Legacy().SignedWithUnknownKey().Build());

        Assert.Equal(HttpStatusCode.Unauthorized, stranger.StatusCode);
    }

    [Fact]
    public async Task Legacy_tokens_are_refused_unless_the_scheme_accepts_them()
    {
        var issuers = Issuers(2);
        await using var host = await StartAsync(issuers, acceptLegacy: false);

        using var response = await host.GetAsync("/p", issuers["c1"].CreateToken("team-x").Legacy().Build());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("AcceptLegacyTokens", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    private static Dictionary<string, KubernetesTestIssuer> Issuers(int count) =>
        Enumerable.Range(0, count).ToDictionary(i => $"c{i}", i => new KubernetesTestIssuer($"https://cluster-{i}.example"));

    private static Task<ClustersHost> StartAsync(Dictionary<string, KubernetesTestIssuer> issuers, bool acceptLegacy) =>
        ClustersHost.StartAsync(
            [Scheme],
            (_, o) =>
            {
                o.Audiences.Add("my-api");
                o.AcceptLegacyTokens = acceptLegacy;
                foreach (var (name, issuer) in issuers)
                {
                    o.Clusters.Add(name, c => issuer.ConfigureCluster(c, inProcess: true));
                }
            },
            map: app => ClustersHost.MapGuarded(app, "/p", "namespace:team-x"));
}
