// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Tests.ClusterView;

/// <summary>
/// The cluster view of each cluster of a scheme's <c>Clusters</c>: every caller is decided by its own cluster's view.
/// Both clusters hold namespace <c>shop</c>, ServiceAccount <c>checkout</c> and Pod <c>checkout-1</c>, with other
/// labels and uids, so that a decision taken with the other cluster's view would flip the answer.
/// </summary>
public sealed class ClustersViewTests : IAsyncLifetime
{
    private KubernetesTestIssuer _issuerA = null!;
    private KubernetesTestIssuer _issuerB = null!;
    private KubernetesTestApiServer _serverA = null!;
    private KubernetesTestApiServer _serverB = null!;

    public async Task InitializeAsync()
    {
        _issuerA = new KubernetesTestIssuer("https://a.example");
        _issuerB = new KubernetesTestIssuer("https://b.example");
        _serverA = await KubernetesTestApiServer.StartAsync();
        _serverB = await KubernetesTestApiServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _serverA.DisposeAsync();
        await _serverB.DisposeAsync();
        await _issuerA.DisposeAsync();
        await _issuerB.DisposeAsync();
    }

    [Fact]
    public async Task Namespace_selectors_read_the_namespace_labels_of_the_callers_own_cluster()
    {
        ClusterViewHost.SeedShop(_serverA, namespaceLabels: new Dictionary<string, string> { ["env"] = "prod" });
        ClusterViewHost.SeedShop(_serverB, namespaceLabels: new Dictionary<string, string> { ["env"] = "staging" });
        await using var host = await StartAsync();
        var a = ClustersViewHost.Token(_issuerA, _serverA);
        var b = ClustersViewHost.Token(_issuerB, _serverB);

        using var prodA = await host.GetAsync("/prod", a);
        using var prodB = await host.GetAsync("/prod", b);
        using var stagingA = await host.GetAsync("/staging", a);
        using var stagingB = await host.GetAsync("/staging", b);

        Assert.Equal(HttpStatusCode.OK, prodA.StatusCode);
        Assert.Equal("a/checkout", await prodA.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Forbidden, prodB.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, stagingA.StatusCode);
        Assert.Equal(HttpStatusCode.OK, stagingB.StatusCode);
        Assert.Equal("b/checkout", await stagingB.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Pod_selectors_read_the_pod_labels_of_the_callers_own_cluster()
    {
        ClusterViewHost.SeedShop(_serverA, podLabels: new Dictionary<string, string> { ["app"] = "checkout" });
        ClusterViewHost.SeedShop(_serverB, podLabels: new Dictionary<string, string> { ["app"] = "other" });
        await using var host = await StartAsync();
        var a = ClustersViewHost.Token(_issuerA, _serverA);
        var b = ClustersViewHost.Token(_issuerB, _serverB);

        using var checkoutA = await host.GetAsync("/checkout", a);
        using var checkoutB = await host.GetAsync("/checkout", b);
        using var otherA = await host.GetAsync("/other", a);
        using var otherB = await host.GetAsync("/other", b);

        Assert.Equal(HttpStatusCode.OK, checkoutA.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, checkoutB.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, otherA.StatusCode);
        Assert.Equal(HttpStatusCode.OK, otherB.StatusCode);
    }

    [Fact]
    public async Task A_pod_selector_with_a_cluster_suffix_matches_only_that_clusters_callers()
    {
        // The same labels in both clusters: only the suffix tells them apart.
        ClusterViewHost.SeedShop(_serverA);
        ClusterViewHost.SeedShop(_serverB);
        await using var host = await StartAsync();
        var a = ClustersViewHost.Token(_issuerA, _serverA);
        var b = ClustersViewHost.Token(_issuerB, _serverB);

        using var anyA = await host.GetAsync("/checkout", a);
        using var anyB = await host.GetAsync("/checkout", b);
        using var onlyAOfA = await host.GetAsync("/checkout-a", a);
        using var onlyAOfB = await host.GetAsync("/checkout-a", b);
        using var onlyBOfA = await host.GetAsync("/checkout-b", a);
        using var onlyBOfB = await host.GetAsync("/checkout-b", b);

        Assert.Equal(HttpStatusCode.OK, anyA.StatusCode);
        Assert.Equal(HttpStatusCode.OK, anyB.StatusCode);
        Assert.Equal(HttpStatusCode.OK, onlyAOfA.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, onlyAOfB.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, onlyBOfA.StatusCode);
        Assert.Equal(HttpStatusCode.OK, onlyBOfB.StatusCode);
    }

    [Fact]
    public async Task A_pod_deleted_in_cluster_a_revokes_as_token_but_not_the_token_of_bs_pod_of_the_same_name()
    {
        ClusterViewHost.SeedShop(_serverA);
        ClusterViewHost.SeedShop(_serverB);
        await using var host = await StartAsync();
        var a = ClustersViewHost.Token(_issuerA, _serverA);
        var b = ClustersViewHost.Token(_issuerB, _serverB);
        foreach (var token in new[] { a, b, a, b })
        {
            // Twice each: the second validation puts the token in the validation cache.
            using var before = await host.GetAsync("/any", token);
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        _serverA.Delete(KubernetesTestResource.Pods, "shop", "checkout-1");
        await ClusterViewHost.EventuallyAsync(() => !host.View("a").Pods.TryGet("shop", "checkout-1", out _), "cluster a's view saw the deletion");
        using var afterA = await host.GetAsync("/any", a);
        using var afterB = await host.GetAsync("/any", b);

        Assert.Equal(HttpStatusCode.Unauthorized, afterA.StatusCode);
        Assert.Contains("the token's pod 'checkout-1' no longer exists", afterA.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, afterB.StatusCode);
        Assert.Equal("b/checkout", await afterB.Content.ReadAsStringAsync());
        Assert.True(host.View("b").Pods.TryGet("shop", "checkout-1", out _));
    }

    [Fact]
    public async Task The_view_logs_of_a_cluster_name_the_scheme_and_the_cluster()
    {
        ClusterViewHost.SeedShop(_serverA);
        ClusterViewHost.SeedShop(_serverB);
        _serverB.Forbid("list", KubernetesTestResource.Pods);
        await using var host = await StartAsync();

        await ClusterViewHost.EventuallyAsync(() => host.Logs.GetSnapshot().Any(r => r.Id.Name == "ClusterViewForbidden"), "cluster b's view logged the refusal");

        Assert.All(host.Logs.GetSnapshot().Where(r => r.Id.Name == "ClusterViewForbidden"), r => Assert.Contains("Cluster view of 'k8s/b'", r.Message, StringComparison.Ordinal));
        Assert.Contains(host.Logs.GetSnapshot(), r => r.Id.Name == "ClusterViewStarted" && r.Message.Contains("Cluster view of 'k8s/a'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Each_clusters_view_is_bound_from_configuration_alone()
    {
        ClusterViewHost.SeedShop(_serverA, namespaceLabels: new Dictionary<string, string> { ["env"] = "prod" });
        ClusterViewHost.SeedShop(_serverB, namespaceLabels: new Dictionary<string, string> { ["env"] = "staging" });
        using var keys = new TemporaryKeyFiles(_issuerA, _issuerB);
        const string prefix = $"Authentication:Schemes:{ClustersViewHost.Scheme}:";
        var configuration = new Dictionary<string, string?>
        {
            [prefix + "Audiences:0"] = "my-api",
            [prefix + "Clusters:a:Issuer"] = _issuerA.Issuer,
            [prefix + "Clusters:a:JwksPath"] = keys.A,
            [prefix + "Clusters:a:RequireHttpsMetadata"] = "false",
            [prefix + "Clusters:a:ClusterView:Enabled"] = "true",
            [prefix + "Clusters:a:ClusterView:ApiServer"] = _serverA.BaseAddress.ToString(),
            [prefix + "Clusters:b:Issuer"] = _issuerB.Issuer,
            [prefix + "Clusters:b:JwksPath"] = keys.B,
            [prefix + "Clusters:b:RequireHttpsMetadata"] = "false",
            [prefix + "Clusters:b:ClusterView:Enabled"] = "true",
            [prefix + "Clusters:b:ClusterView:ApiServer"] = _serverB.BaseAddress.ToString(),
        };
        await using var host = await ClustersViewHost.StartAsync(configure: null, configuration);
        var a = ClustersViewHost.Token(_issuerA, _serverA);
        var b = ClustersViewHost.Token(_issuerB, _serverB);

        using var prodA = await host.GetAsync("/prod", a);
        using var prodB = await host.GetAsync("/prod", b);

        Assert.Equal(_serverA.BaseAddress, host.View("a").Client.ApiServer);
        Assert.Equal(_serverB.BaseAddress, host.View("b").Client.ApiServer);
        Assert.Equal(HttpStatusCode.OK, prodA.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, prodB.StatusCode);
        Assert.True(_serverA.GetRequestCount("list", KubernetesTestResource.Namespaces) > 0);
        Assert.True(_serverB.GetRequestCount("list", KubernetesTestResource.Namespaces) > 0);
    }

    [Fact]
    public async Task A_scheme_level_ClusterView_Enabled_is_the_default_of_every_cluster_each_watching_its_own_api_server()
    {
        ClusterViewHost.SeedShop(_serverA, namespaceLabels: new Dictionary<string, string> { ["env"] = "prod" });
        ClusterViewHost.SeedShop(_serverB, namespaceLabels: new Dictionary<string, string> { ["env"] = "staging" });
        const string prefix = $"Authentication:Schemes:{ClustersViewHost.Scheme}:";
        var configuration = new Dictionary<string, string?>
        {
            [prefix + "ClusterView:Enabled"] = "true",
            [prefix + "Clusters:a:ClusterView:ApiServer"] = _serverA.BaseAddress.ToString(),
            [prefix + "Clusters:b:ClusterView:ApiServer"] = _serverB.BaseAddress.ToString(),
        };
        await using var host = await ClustersViewHost.StartAsync(
            o =>
            {
                o.Audiences.Add("my-api");
                o.Clusters.Add("a", c => _issuerA.ConfigureCluster(c, inProcess: true));
                o.Clusters.Add("b", c => _issuerB.ConfigureCluster(c, inProcess: true));
            },
            configuration);

        using var prodA = await host.GetAsync("/prod", ClustersViewHost.Token(_issuerA, _serverA));
        using var prodB = await host.GetAsync("/prod", ClustersViewHost.Token(_issuerB, _serverB));

        Assert.Equal(_serverA.BaseAddress, host.View("a").Client.ApiServer);
        Assert.Equal(_serverB.BaseAddress, host.View("b").Client.ApiServer);
        Assert.Equal(HttpStatusCode.OK, prodA.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, prodB.StatusCode);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_cluster_whose_view_names_no_api_server_is_a_start_error_naming_its_key(bool enabledAtSchemeLevel)
    {
        // Cluster b's view would otherwise watch the in-cluster API server, the service's own cluster (here a's):
        // b's Pods are not there, so every caller of b would be refused.
        var error = ClustersViewHost.StartError(o =>
        {
            o.ClusterView.Enabled = enabledAtSchemeLevel;
            o.Clusters.Add("a", c =>
            {
                c.InCluster = true;
                c.ClusterView.Enabled = true;
            });
            o.Clusters.Add("b", c =>
            {
                c.Issuer = "https://b.example";
                c.ClusterView.Enabled = true;
            });
        });

        Assert.NotNull(error);
        Assert.Contains("'Clusters:b:ClusterView:Enabled' option is on", error, StringComparison.Ordinal);
        Assert.Contains("set 'Clusters:b:ClusterView:ApiServer'", error, StringComparison.Ordinal);
        Assert.Equal(enabledAtSchemeLevel, error.Contains("inherited from the scheme-level 'ClusterView:Enabled'", StringComparison.Ordinal));
        Assert.DoesNotContain("'Clusters:a:", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cluster_whose_view_has_its_own_api_server_or_is_in_cluster_starts()
    {
        var error = ClustersViewHost.StartError(o =>
        {
            o.ClusterView.Enabled = true;
            o.Clusters.Add("a", c => c.InCluster = true);
            o.Clusters.Add("b", c =>
            {
                c.Issuer = "https://b.example";
                c.ClusterView.ApiServer = "https://b-api.example:6443";
            });
            o.Clusters.Add("c", c =>
            {
                c.Issuer = "https://c.example";
                c.TokenReview.ApiServer = "https://c-api.example:6443";
            });
        });

        Assert.Null(error);
    }

    [Fact]
    public void A_clusters_plain_http_view_api_server_is_a_start_error_naming_its_key()
    {
        var error = ClustersViewHost.StartError(o => o.Clusters.Add("b", c =>
        {
            c.Issuer = "https://b.example";
            c.ClusterView.Enabled = true;
            c.ClusterView.ApiServer = "http://b-api.example:6443";
        }));

        Assert.NotNull(error);
        Assert.Contains("'Clusters:b:ClusterView:ApiServer' option ('http://b-api.example:6443') must use HTTPS, or set 'Clusters:b:RequireHttpsMetadata' to false", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_clusters_ClusterView_Namespaces_in_configuration_replaces_the_scheme_level_list()
    {
        const string prefix = $"Authentication:Schemes:{ClustersViewHost.Scheme}:";
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [prefix + "Audiences:0"] = "my-api",
            [prefix + "ClusterView:Enabled"] = "true",
            [prefix + "ClusterView:Namespaces:0"] = "shop",
            [prefix + "Clusters:a:Issuer"] = "https://a.example",
            [prefix + "Clusters:a:ClusterView:ApiServer"] = "https://a-api.example:6443",
            [prefix + "Clusters:b:Issuer"] = "https://b.example",
            [prefix + "Clusters:b:ClusterView:ApiServer"] = "https://b-api.example:6443",
            [prefix + "Clusters:b:ClusterView:Namespaces:0"] = "billing",
            [prefix + "Clusters:b:ClusterView:Namespaces:1"] = "ledger",
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddAuthentication().AddKubernetesServiceAccount(ClustersViewHost.Scheme, _ => { });
        using var provider = services.BuildServiceProvider();

        var clusters = provider.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(ClustersViewHost.Scheme)
            .GetClusters(ClustersViewHost.Scheme).ToDictionary(c => c.Name, c => c.Options.ClusterView.Namespaces);

        // a inherits the scheme-level list; b's own list replaces it (b's RBAC grants billing and ledger, never shop).
        Assert.Equal(["shop"], clusters["a"]);
        Assert.Equal(["billing", "ledger"], clusters["b"]);
    }

    /// <summary>What ValidateOnStart says when the host starts, or <see langword="null"/>.</summary>
    private Task<ClustersViewHost> StartAsync() => ClustersViewHost.StartAsync(o =>
    {
        o.Audiences.Add("my-api");
        o.Clusters.Add("a", c => ClustersViewHost.ConfigureCluster(c, _issuerA, _serverA));
        o.Clusters.Add("b", c => ClustersViewHost.ConfigureCluster(c, _issuerB, _serverB));
    });

    /// <summary>Each issuer's JWKS in a file of its own (keys from configuration: <c>JwksPath</c>), deleted at the end.</summary>
    private sealed class TemporaryKeyFiles : IDisposable
    {
        public TemporaryKeyFiles(KubernetesTestIssuer a, KubernetesTestIssuer b)
        {
            A = Path.Combine(Path.GetTempPath(), $"kubesa-view-a-{Guid.NewGuid():N}.json");
            B = Path.Combine(Path.GetTempPath(), $"kubesa-view-b-{Guid.NewGuid():N}.json");
            File.WriteAllText(A, a.GetJwks());
            File.WriteAllText(B, b.GetJwks());
        }

        public string A { get; }

        public string B { get; }

        public void Dispose()
        {
            File.Delete(A);
            File.Delete(B);
        }
    }
}
