// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.Tests.Schemes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.Tests.Authorization;

/// <summary>
/// Which schemes a policy authenticates with, with and without a default scheme: the builder helpers'
/// policies name none, yet authenticate with the Kubernetes schemes (never a 500 "No authenticationScheme
/// was specified"); <c>@cluster</c> authenticates with that cluster's schemes only; an unmet policy is 403.
/// </summary>
public sealed class PolicySchemeTests
{
    public static TheoryData<string?> DefaultSchemes => new() { null, "cluster-a" };

    [Theory]
    [MemberData(nameof(DefaultSchemes))]
    public async Task Namespace_helper_admits_the_namespace_from_every_cluster(string? defaultScheme)
    {
        var clusters = IssuerRoutingTests.Clusters(2);
        await using var host = await StartAsync(clusters, defaultScheme, p => p.RequireKubernetesNamespace("team-x"));

        foreach (var path in Paths)
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(host, path, clusters["cluster-a"].CreateToken("team-x")));
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(host, path, clusters["cluster-b"].CreateToken("team-x")));
            Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(host, path, clusters["cluster-b"].CreateToken("team-y")));
        }
    }

    [Theory]
    [MemberData(nameof(DefaultSchemes))]
    public async Task ServiceAccount_helper_admits_that_service_account_from_every_cluster(string? defaultScheme)
    {
        var clusters = IssuerRoutingTests.Clusters(2);
        await using var host = await StartAsync(clusters, defaultScheme, p => p.RequireKubernetesServiceAccount("ops", "deployer"));

        foreach (var path in Paths)
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(host, path, clusters["cluster-a"].CreateToken("ops", "deployer")));
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(host, path, clusters["cluster-b"].CreateToken("ops", "deployer")));
            Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(host, path, clusters["cluster-b"].CreateToken("ops", "viewer")));
        }
    }

    [Theory]
    [MemberData(nameof(DefaultSchemes))]
    public async Task ServiceAccount_helper_with_a_cluster_admits_that_cluster_only(string? defaultScheme)
    {
        var clusters = IssuerRoutingTests.Clusters(2);
        await using var host = await StartAsync(clusters, defaultScheme, p => p.RequireKubernetesServiceAccount("ops", "deployer", "cluster-b"));

        foreach (var path in Paths)
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(host, path, clusters["cluster-b"].CreateToken("ops", "deployer")));
            Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(host, path, clusters["cluster-a"].CreateToken("ops", "deployer")));
        }
    }

    [Theory]
    [MemberData(nameof(DefaultSchemes))]
    public async Task NamespaceInCluster_helper_admits_that_cluster_only(string? defaultScheme)
    {
        var clusters = IssuerRoutingTests.Clusters(2);
        await using var host = await StartAsync(clusters, defaultScheme, p => p.RequireKubernetesNamespaceInCluster("team-x", "cluster-b"));

        foreach (var path in Paths)
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(host, path, clusters["cluster-b"].CreateToken("team-x")));
            Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(host, path, clusters["cluster-a"].CreateToken("team-x")));
            Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(host, path, clusters["cluster-b"].CreateToken("team-y")));
        }
    }

    [Theory]
    [MemberData(nameof(DefaultSchemes))]
    public async Task Helper_policy_answers_one_Bearer_challenge_without_a_token_or_with_a_bad_one(string? defaultScheme)
    {
        var clusters = IssuerRoutingTests.Clusters(2);
        await using var host = await StartAsync(clusters, defaultScheme, p => p.RequireKubernetesNamespace("team-x"));

        foreach (var path in Paths)
        {
            using var none = await host.GetAsync(path, token: null);
            using var expired = await host.GetAsync(path, clusters["cluster-b"].CreateToken("team-x").Expired().Build());

            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
            Assert.Equal("Bearer", Assert.Single(none.Headers.WwwAuthenticate).ToString());
            Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
            Assert.Contains("expired", Assert.Single(expired.Headers.WwwAuthenticate).Parameter, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(DefaultSchemes))]
    public async Task Cluster_policy_by_name_authenticates_with_that_cluster_only(string? defaultScheme)
    {
        var clusters = IssuerRoutingTests.Clusters(3);
        await using var host = await ClustersHost.StartAsync(
            [.. clusters.Keys],
            (name, o) => clusters[name].Configure(o, inProcess: true),
            map: app => ClustersHost.MapGuarded(app, "/p", "namespace:team-x@cluster-b"),
            defaultScheme: defaultScheme);

        using var response = await host.GetAsync("/p", clusters["cluster-b"].CreateToken("team-x").Build());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // Neither other scheme was asked (each would log that it left the token to cluster-b), but the
        // default scheme, which UseAuthentication asks on every request.
        var asked = host.Logs.GetSnapshot()
            .Where(r => r.Id.Name == "TokenLeftToOtherScheme")
            .Select(r => r.StructuredState!.Single(kv => kv.Key == "Scheme").Value)
            .Distinct()
            .ToArray();
        Assert.Equal(defaultScheme is null ? [] : [defaultScheme], asked);
    }

    [Theory]
    [MemberData(nameof(DefaultSchemes))]
    public async Task Cluster_policy_refuses_a_valid_token_of_another_cluster_with_403_and_a_bad_one_with_its_reason(string? defaultScheme)
    {
        var clusters = IssuerRoutingTests.Clusters(2);
        await using var host = await ClustersHost.StartAsync(
            [.. clusters.Keys],
            (name, o) => clusters[name].Configure(o, inProcess: true),
            map: app => ClustersHost.MapGuarded(app, "/p", "namespace:team-x@cluster-b"),
            defaultScheme: defaultScheme);

        using var valid = await host.GetAsync("/p", clusters["cluster-a"].CreateToken("team-x").Build());
        using var expired = await host.GetAsync("/p", clusters["cluster-a"].CreateToken("team-x").Expired().Build());

        Assert.Equal(HttpStatusCode.Forbidden, valid.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        Assert.Contains("expired", Assert.Single(expired.Headers.WwwAuthenticate).Parameter, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cluster_policy_names_the_ClusterName_and_uses_every_scheme_of_that_cluster()
    {
        // One cluster, two schemes (two audiences), both named cluster-b; a third scheme for cluster-a.
        var a = new KubernetesTestIssuer("https://oidc.cluster-a.example");
        var b = new KubernetesTestIssuer("https://oidc.cluster-b.example");
        await using var host = await ClustersHost.StartAsync(
            ["a", "b-internal", "b-public"],
            (name, o) =>
            {
                (name == "a" ? a : b).Configure(o, inProcess: true);
                if (name != "a")
                {
                    o.ClusterName = "cluster-b";
                    o.Audiences.Clear();
                    o.Audiences.Add(name);
                }
            },
            map: app => ClustersHost.MapGuarded(app, "/p", "namespace:team-x@cluster-b"));

        using var publicCaller = await host.GetAsync("/p", b.CreateToken("team-x").WithAudience("b-public").Build());
        using var internalCaller = await host.GetAsync("/p", b.CreateToken("team-x").WithAudience("b-internal").Build());
        using var other = await host.GetAsync("/p", a.CreateToken("team-x").Build());

        Assert.Equal(HttpStatusCode.OK, publicCaller.StatusCode);
        Assert.Equal(HttpStatusCode.OK, internalCaller.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
    }

    [Fact]
    public async Task Helper_policy_works_when_AddAuthorization_comes_before_AddAuthentication()
    {
        // AddAuthorization registers ASP.NET Core's evaluator and result handler first; they are replaced.
        var issuer = new KubernetesTestIssuer("https://oidc.cluster-a.example");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseTestServer();
        builder.Services.AddAuthorization();
        builder.Services.AddAuthentication().AddKubernetesServiceAccount("cluster-a", o => issuer.Configure(o, inProcess: true));
        await using var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/p", () => "ok").RequireAuthorization(p => p.RequireKubernetesNamespace("team-x"));
        await app.StartAsync();
        using var client = app.GetTestClient();

        using var none = await client.GetAsync(new Uri("/p", UriKind.Relative));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/p") { Headers = { Authorization = new("Bearer", issuer.CreateToken("team-x").Build()) } };
        using var good = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
    }

    [Theory]
    [MemberData(nameof(DefaultSchemes))]
    public async Task Plain_Authorize_admits_a_caller_of_every_cluster_and_challenges_without_a_token(string? defaultScheme)
    {
        var clusters = IssuerRoutingTests.Clusters(2);
        await using var host = await ClustersHost.StartAsync(
            [.. clusters.Keys],
            (name, o) => clusters[name].Configure(o, inProcess: true),
            map: app =>
            {
                app.MapGet("/attribute", () => "ok").WithMetadata(new AuthorizeAttribute());
                app.MapGet("/require", () => "ok").RequireAuthorization();
            },
            defaultScheme: defaultScheme);

        foreach (var path in new[] { "/attribute", "/require" })
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(host, path, clusters["cluster-a"].CreateToken("team-x")));
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(host, path, clusters["cluster-b"].CreateToken("team-x")));
            using var none = await host.GetAsync(path, token: null);
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
            Assert.Equal("Bearer", Assert.Single(none.Headers.WwwAuthenticate).Scheme);
            using var bad = await host.GetAsync(path, "not-a-jwt");
            Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
        }
    }

    [Theory]
    [MemberData(nameof(DefaultSchemes))]
    public async Task Authorize_with_Roles_admits_the_namespace_group_of_every_cluster_and_forbids_the_others(string? defaultScheme)
    {
        var clusters = IssuerRoutingTests.Clusters(2);
        await using var host = await ClustersHost.StartAsync(
            [.. clusters.Keys],
            (name, o) => clusters[name].Configure(o, inProcess: true),
            map: app => app.MapGet("/ops", () => "ok").WithMetadata(new AuthorizeAttribute { Roles = "system:serviceaccounts:ops" }),
            defaultScheme: defaultScheme);

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(host, "/ops", clusters["cluster-a"].CreateToken("ops")));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(host, "/ops", clusters["cluster-b"].CreateToken("ops")));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(host, "/ops", clusters["cluster-b"].CreateToken("team-x")));
        using var none = await host.GetAsync("/ops", token: null);
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
    }

    [Fact]
    public async Task Plain_Authorize_in_one_scheme_of_several_clusters_admits_each_cluster()
    {
        var clusters = IssuerRoutingTests.Clusters(3);
        await using var host = await ClustersHost.StartAsync(
            ["k8s"],
            (_, o) =>
            {
                foreach (var (name, issuer) in clusters)
                {
                    o.Clusters.Add(name, c => issuer.ConfigureCluster(c, inProcess: true));
                }

                o.Audiences.Add("my-api");
            },
            map: app =>
            {
                app.MapGet("/require", () => "ok").RequireAuthorization();
                ClustersHost.MapGuarded(app, "/b", "namespace:team-x@cluster-b");
            });

        foreach (var (name, issuer) in clusters)
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(host, "/require", issuer.CreateToken("team-x")));
            Assert.Equal(name == "cluster-b" ? HttpStatusCode.OK : HttpStatusCode.Forbidden, await StatusAsync(host, "/b", issuer.CreateToken("team-x")));
        }
    }

    private static readonly string[] Paths = ["/named", "/inline"];

    private static async Task<HttpStatusCode> StatusAsync(ClustersHost host, string path, KubernetesTokenBuilder token)
    {
        using var response = await host.GetAsync(path, token.Build());
        return response.StatusCode;
    }

    /// <summary>The same helper policy twice: registered by name (<c>AddPolicy</c>) at /named, and given in place at /inline.</summary>
    private static Task<ClustersHost> StartAsync(Dictionary<string, KubernetesTestIssuer> clusters, string? defaultScheme, Action<AuthorizationPolicyBuilder> policy) =>
        ClustersHost.StartAsync(
            [.. clusters.Keys],
            (name, o) => clusters[name].Configure(o, inProcess: true),
            authorization: o => o.AddPolicy("helper", policy),
            map: app =>
            {
                ClustersHost.MapGuarded(app, "/named", "helper");
                ClustersHost.MapGuarded(app, "/inline", policy);
            },
            defaultScheme: defaultScheme);
}
