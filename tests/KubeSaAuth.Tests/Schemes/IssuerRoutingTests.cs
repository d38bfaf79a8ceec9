// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.Tests.Schemes;

/// <summary>
/// Several clusters, one scheme each, as the README registers them: a token is judged only by the scheme
/// whose issuer it names; every other scheme leaves it alone (no key work, no refusal log, no failure
/// metric, no challenge of its own).
/// </summary>
public sealed class IssuerRoutingTests
{
    private const string Policy = "namespace:team-x";

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Each_cluster_token_is_judged_by_its_own_scheme_without_a_refusal_from_the_others(int count)
    {
        var clusters = Clusters(count);
        await using var host = await StartAsync(clusters);

        foreach (var (name, issuer) in clusters)
        {
            using var response = await host.GetAsync("/p", issuer.CreateToken("team-x").Build());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"{name}/team-x", await response.Content.ReadAsStringAsync());
        }

        Assert.Empty(host.Refusals());
        Assert.Empty(host.FailureMetrics());
        Assert.Equal(count * (count - 1), host.Logs.GetSnapshot().Count(r => r.Id.Name == "TokenLeftToOtherScheme" && r.Level == LogLevel.Debug));
    }

    [Fact]
    public async Task Token_of_one_cluster_causes_no_key_fetch_in_another()
    {
        var clusters = Clusters(2);
        await using var host = await StartAsync(clusters);

        using var response = await host.GetAsync("/p", clusters["cluster-b"].CreateToken("team-x").Build());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, clusters["cluster-a"].DiscoveryRequests + clusters["cluster-a"].JwksRequests);
    }

    [Fact]
    public async Task Expired_token_is_refused_once_by_its_own_cluster_with_one_challenge()
    {
        var clusters = Clusters(3);
        await using var host = await StartAsync(clusters);

        using var response = await host.GetAsync("/p", clusters["cluster-b"].CreateToken("team-x").Expired().Build());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Contains("expired", challenge.Parameter, StringComparison.Ordinal);
        Assert.Single(host.Refusals());
        Assert.Equal(["cluster-b"], host.FailureMetrics());
    }

    [Fact]
    public async Task Token_of_an_unknown_issuer_gets_one_refusal_whose_log_alone_names_the_accepted_issuers()
    {
        var clusters = Clusters(3);
        await using var host = await StartAsync(clusters);
        var stranger = new KubernetesTestIssuer("https://stranger.example");

        using var response = await host.GetAsync("/p", stranger.CreateToken("team-x").Build());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.StartsWith("error=\"invalid_token\"", challenge.Parameter, StringComparison.Ordinal);
        Assert.Contains("'https://stranger.example' is not accepted here", challenge.Parameter, StringComparison.Ordinal);
        var refusal = Assert.Single(host.Refusals());
        foreach (var issuer in clusters.Values)
        {
            Assert.DoesNotContain(issuer.Issuer, challenge.Parameter, StringComparison.Ordinal);
            Assert.Contains($"'{issuer.Issuer}'", refusal.Message, StringComparison.Ordinal);
        }

        Assert.Equal(nameof(KubernetesTokenFailureReason.InvalidIssuer), refusal.StructuredState!.Single(kv => kv.Key == "Reason").Value);
        Assert.Single(host.FailureMetrics());
        Assert.All(clusters.Values, c => Assert.Equal(0, c.JwksRequests));
    }

    [Theory]
    [InlineData("not-a-jwt")]
    [InlineData("a.b.c")]
    public async Task Unreadable_token_gets_one_refusal_and_one_challenge(string token)
    {
        await using var host = await StartAsync(Clusters(3));

        using var response = await host.GetAsync("/p", token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Single(host.Refusals());
        Assert.Single(host.FailureMetrics());
    }

    [Fact]
    public async Task Request_without_token_gets_one_bare_Bearer_challenge()
    {
        await using var host = await StartAsync(Clusters(3));

        using var response = await host.GetAsync("/p", token: null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).ToString());
    }

    [Fact]
    public async Task Wrong_audience_is_reported_by_the_judging_cluster_only()
    {
        var clusters = Clusters(2);
        await using var host = await StartAsync(clusters);

        using var response = await host.GetAsync("/p", clusters["cluster-a"].CreateToken("team-x").WithWrongAudience().Build());

        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Contains("wrong-audience", challenge.Parameter, StringComparison.Ordinal);
        Assert.Equal(["cluster-a"], host.FailureMetrics());
    }

    [Fact]
    public async Task Two_schemes_of_one_issuer_both_judge_its_tokens()
    {
        // Same cluster, two audiences: both schemes claim the issuer; the one whose audience matches admits.
        var issuer = new KubernetesTestIssuer("https://oidc.shared.example");
        await using var host = await ClustersHost.StartAsync(
            ["api-1", "api-2"],
            (name, o) =>
            {
                o.Audiences.Add(name);
                issuer.Configure(o, inProcess: true);
            },
            map: app => ClustersHost.MapGuarded(app, "/p", Policy));

        using var response = await host.GetAsync("/p", issuer.CreateToken("team-x").WithAudience("api-2").Build());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("api-2/team-x", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Additional_issuer_routes_to_its_cluster()
    {
        var clusters = Clusters(2);
        await using var host = await ClustersHost.StartAsync(
            [.. clusters.Keys],
            (name, o) =>
            {
                clusters[name].Configure(o, inProcess: true);
                if (name == "cluster-b")
                {
                    o.AdditionalIssuers.Add("https://old.cluster-b.example");
                }
            },
            map: app => ClustersHost.MapGuarded(app, "/p", Policy));

        using var response = await host.GetAsync("/p", clusters["cluster-b"].CreateToken("team-x").WithIssuer("https://old.cluster-b.example").Build());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("cluster-b/team-x", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, clusters["cluster-a"].JwksRequests);
        Assert.Empty(host.Refusals());
    }

    [Fact]
    public async Task Discovered_issuer_routes_once_its_discovery_document_is_in_hand()
    {
        // cluster-a names no Issuer: its tokens wait for its discovery once, then route like the others.
        var clusters = Clusters(2);
        await using var host = await ClustersHost.StartAsync(
            [.. clusters.Keys],
            (name, o) =>
            {
                clusters[name].Configure(o, inProcess: true);
                if (name == "cluster-a")
                {
                    o.Issuer = null;
                }
            },
            map: app => ClustersHost.MapGuarded(app, "/p", Policy));

        using var fromA = await host.GetAsync("/p", clusters["cluster-a"].CreateToken("team-x").Build());
        using var fromB = await host.GetAsync("/p", clusters["cluster-b"].CreateToken("team-x").Build());

        Assert.Equal(HttpStatusCode.OK, fromA.StatusCode);
        Assert.Equal(HttpStatusCode.OK, fromB.StatusCode);
        Assert.Empty(host.Refusals());
    }

    internal static Dictionary<string, KubernetesTestIssuer> Clusters(int count) =>
        Enumerable.Range(0, count).ToDictionary(i => $"cluster-{(char)('a' + i)}", i => new KubernetesTestIssuer($"https://oidc.cluster-{(char)('a' + i)}.example"));

    private static Task<ClustersHost> StartAsync(Dictionary<string, KubernetesTestIssuer> clusters) =>
        ClustersHost.StartAsync([.. clusters.Keys], (name, o) => clusters[name].Configure(o, inProcess: true), map: app => ClustersHost.MapGuarded(app, "/p", Policy));
}
