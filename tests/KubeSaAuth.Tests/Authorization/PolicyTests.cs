// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;

namespace KubeSaAuth.Tests.Authorization;

public sealed class PolicyTests
{
    private const string Scheme = KubernetesServiceAccountDefaults.AuthenticationScheme;

    private readonly KubernetesTestIssuer _issuer = new();

    [Theory]
    [InlineData("namespace:team-a", "team-a", "worker", HttpStatusCode.OK)]
    [InlineData("namespace:team-a", "team-b", "worker", HttpStatusCode.Forbidden)]
    [InlineData("namespace:team-a", "team-a-dev", "worker", HttpStatusCode.Forbidden)]
    [InlineData("namespace:team-*", "team-a", "worker", HttpStatusCode.OK)]
    [InlineData("namespace:team-*", "team-", "worker", HttpStatusCode.Unauthorized)] // no DNS-1123 label: refused before any policy (issue 11 §6)
    [InlineData("namespace:team-*", "ops", "worker", HttpStatusCode.Forbidden)]
    [InlineData("namespace:team-*", "my-team-a", "worker", HttpStatusCode.Forbidden)]
    [InlineData("serviceaccount:ops:deployer", "ops", "deployer", HttpStatusCode.OK)]
    [InlineData("serviceaccount:ops:deployer", "ops", "viewer", HttpStatusCode.Forbidden)]
    [InlineData("serviceaccount:ops:deployer", "team-a", "deployer", HttpStatusCode.Forbidden)]
    public async Task Policy_by_name_admits_only_matching_callers(string policy, string ns, string serviceAccount, HttpStatusCode expected)
    {
        await using var host = await PolicyHost.StartAsync(Schemes(), app => PolicyHost.MapGuarded(app, "/p", policy));

        using var response = await host.GetAsync("/p", _issuer.CreateToken(ns, serviceAccount).Build());

        Assert.Equal(expected, response.StatusCode);
    }

    [Theory]
    [InlineData("namespace:team-a")]
    [InlineData("serviceaccount:ops:deployer")]
    public async Task Policy_by_name_challenges_a_caller_without_token(string policy)
    {
        await using var host = await PolicyHost.StartAsync(Schemes(), app => PolicyHost.MapGuarded(app, "/p", policy));

        using var response = await host.GetAsync("/p", token: null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task Application_policy_with_the_same_name_wins()
    {
        await using var host = await PolicyHost.StartAsync(
            Schemes(),
            app => PolicyHost.MapGuarded(app, "/p", "namespace:team-a"),
            o => o.AddPolicy("namespace:team-a", p => p.AddAuthenticationSchemes(Scheme).RequireKubernetesNamespace("ops")));

        using var teamA = await host.GetAsync("/p", _issuer.CreateToken("team-a").Build());
        using var ops = await host.GetAsync("/p", _issuer.CreateToken("ops").Build());

        Assert.Equal(HttpStatusCode.Forbidden, teamA.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ops.StatusCode);
    }

    [Theory]
    [InlineData("team-a", HttpStatusCode.OK)]
    [InlineData("team-b", HttpStatusCode.OK)]
    [InlineData("team-c", HttpStatusCode.Forbidden)]
    public async Task RequireKubernetesNamespace_admits_any_of_the_namespaces(string ns, HttpStatusCode expected)
    {
        await using var host = await PolicyHost.StartAsync(
            Schemes(),
            app => PolicyHost.MapGuarded(app, "/p", "teams"),
            o => o.AddPolicy("teams", p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser().RequireKubernetesNamespace("team-a", "team-b")));

        using var response = await host.GetAsync("/p", _issuer.CreateToken(ns).Build());

        Assert.Equal(expected, response.StatusCode);
    }

    [Theory]
    [InlineData("ops", "deployer", HttpStatusCode.OK)]
    [InlineData("ops", "viewer", HttpStatusCode.Forbidden)]
    public async Task RequireKubernetesServiceAccount_admits_that_service_account_only(string ns, string name, HttpStatusCode expected)
    {
        await using var host = await PolicyHost.StartAsync(
            Schemes(),
            app => PolicyHost.MapGuarded(app, "/p", "deployer"),
            o => o.AddPolicy("deployer", p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser().RequireKubernetesServiceAccount("ops", "deployer")));

        using var response = await host.GetAsync("/p", _issuer.CreateToken(ns, name).Build());

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task Unknown_policy_names_are_left_to_the_default_provider()
    {
        await using var host = await PolicyHost.StartAsync(Schemes(), app => PolicyHost.MapGuarded(app, "/p", "namespace:"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => host.GetAsync("/p", _issuer.CreateToken().Build()));
    }

    [Theory]
    [InlineData("namespace:team-a", true)]
    [InlineData("namespace:team-*", true)]
    [InlineData("namespace:*", true)]
    [InlineData("serviceaccount:ops:deployer", true)]
    [InlineData("namespace:team-a@cluster-a", true)]
    [InlineData("namespace:", false)]
    [InlineData("namespace:te*am", false)]
    [InlineData("serviceaccount:ops", false)]
    [InlineData("serviceaccount:ops:deployer:x", false)]
    [InlineData("serviceaccount:ops:*", false)]
    [InlineData("namespace:team-a@", false)]
    [InlineData("Namespace:team-a", false)]
    [InlineData("admins", false)]
    public void Parses_policy_names(string policy, bool understood)
    {
        Assert.Equal(understood, KubeSaAuth.Authorization.KubernetesAuthorizationPolicyProvider.TryParse(policy) is not null);
    }

    [Theory]
    [InlineData("cluster-a", "team-x", HttpStatusCode.OK)]
    [InlineData("cluster-b", "team-x", HttpStatusCode.Forbidden)]
    [InlineData("cluster-a", "team-y", HttpStatusCode.Forbidden)]
    public async Task Two_clusters_side_by_side_admit_namespace_x_of_cluster_a_only(string cluster, string ns, HttpStatusCode expected)
    {
        var clusters = TwoClusters();
        await using var host = await PolicyHost.StartAsync(clusters, app => PolicyHost.MapGuarded(app, "/p", "namespace:team-x@cluster-a"));

        using var response = await host.GetAsync("/p", clusters[cluster].CreateToken(ns).Build());

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task Two_clusters_side_by_side_admit_namespace_x_of_cluster_a_only_with_the_builder()
    {
        var clusters = TwoClusters();
        await using var host = await PolicyHost.StartAsync(
            clusters,
            app => PolicyHost.MapGuarded(app, "/p", "a-team-x"),
            o => o.AddPolicy("a-team-x", p => p.AddAuthenticationSchemes("cluster-a", "cluster-b").RequireAuthenticatedUser().RequireKubernetesNamespaceInCluster("team-x", "cluster-a")));

        using var fromA = await host.GetAsync("/p", clusters["cluster-a"].CreateToken("team-x").Build());
        using var fromB = await host.GetAsync("/p", clusters["cluster-b"].CreateToken("team-x").Build());

        Assert.Equal(HttpStatusCode.OK, fromA.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, fromB.StatusCode);
    }

    [Fact]
    public async Task Two_clusters_side_by_side_each_authenticate_their_own_tokens()
    {
        var clusters = TwoClusters();
        await using var host = await PolicyHost.StartAsync(clusters, app => PolicyHost.MapGuarded(app, "/p", "namespace:team-x"));

        using var fromA = await host.GetAsync("/p", clusters["cluster-a"].CreateToken("team-x").Build());
        using var fromB = await host.GetAsync("/p", clusters["cluster-b"].CreateToken("team-x").Build());
        using var stranger = await host.GetAsync("/p", new KubernetesTestIssuer("https://stranger.example").CreateToken("team-x").Build());

        Assert.Equal(HttpStatusCode.OK, fromA.StatusCode);
        Assert.Equal(HttpStatusCode.OK, fromB.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, stranger.StatusCode);
    }

    private Dictionary<string, KubernetesTestIssuer> Schemes() => new() { [Scheme] = _issuer };

    private static Dictionary<string, KubernetesTestIssuer> TwoClusters() => new()
    {
        ["cluster-a"] = new KubernetesTestIssuer("https://oidc.cluster-a.example"),
        ["cluster-b"] = new KubernetesTestIssuer("https://oidc.cluster-b.example"),
    };
}
