// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace KubeSaAuth.Tests.Diagnostics;

/// <summary>
/// The cluster-view health check of a scheme holding several clusters (<c>Clusters</c>), each with its own view of its
/// own API server: every cluster is reported (data <c>cluster:{name}</c>), the status is the worst, and a cluster in
/// trouble is named with its reason.
/// </summary>
public sealed class ClusterViewHealthTests
{
    [Fact]
    public async Task Names_the_cluster_whose_rbac_refuses_list_pods_and_reports_the_other_healthy()
    {
        await using var issuerA = new KubernetesTestIssuer("https://a.example");
        await using var issuerB = new KubernetesTestIssuer("https://b.example");
        await using var serverA = await KubernetesTestApiServer.StartAsync();
        await using var serverB = await KubernetesTestApiServer.StartAsync();
        ClusterViewHost.SeedShop(serverA);
        ClusterViewHost.SeedShop(serverB);

        // The second cluster is the refused one: a check of the first cluster alone would say Healthy.
        serverB.Forbid("list", KubernetesTestResource.Pods);
        await using var host = await ClustersViewHost.StartAsync(o =>
        {
            o.Audiences.Add("my-api");
            o.Clusters.Add("a", c => ClustersViewHost.ConfigureCluster(c, issuerA, serverA));
            o.Clusters.Add("b", c => ClustersViewHost.ConfigureCluster(c, issuerB, serverB));
        });

        var entry = await host.HealthWhenAsync(
            e => e.Data.TryGetValue("cluster:a", out var a) && ((string)a).StartsWith("Healthy", StringComparison.Ordinal)
                && e.Data.TryGetValue("cluster:b", out var b) && ((string)b).Contains("list pods", StringComparison.Ordinal),
            "cluster a's view is complete and cluster b's refusal is reported");

        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Equal(2, entry.Data["clusters"]);
        var b = (string)entry.Data["cluster:b"];
        Assert.StartsWith("Degraded", b, StringComparison.Ordinal);
        Assert.Contains("may not list pods", b, StringComparison.Ordinal);
        Assert.Contains("refused by RBAC since ", b, StringComparison.Ordinal);
        Assert.Contains("1 of 2 cluster views of scheme 'k8s'", entry.Description, StringComparison.Ordinal);
        Assert.Contains("cluster 'b': Degraded", entry.Description, StringComparison.Ordinal);
        Assert.Contains("may not list pods", entry.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("cluster 'a'", entry.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Names_the_cluster_whose_api_server_is_down_with_since_when_and_reports_the_other_healthy()
    {
        await using var issuerA = new KubernetesTestIssuer("https://a.example");
        await using var issuerB = new KubernetesTestIssuer("https://b.example");
        await using var serverA = await KubernetesTestApiServer.StartAsync();
        await using var serverB = await KubernetesTestApiServer.StartAsync();
        ClusterViewHost.SeedShop(serverA);
        ClusterViewHost.SeedShop(serverB);
        await using var host = await ClustersViewHost.StartAsync(o =>
        {
            o.Audiences.Add("my-api");
            o.Clusters.Add("a", c => ClustersViewHost.ConfigureCluster(c, issuerA, serverA));
            o.Clusters.Add("b", c => ClustersViewHost.ConfigureCluster(c, issuerB, serverB));
        });
        await host.HealthWhenAsync(e => e.Status == HealthStatus.Healthy, "both views are complete");

        using (serverA.SimulateOutage())
        {
            var entry = await host.HealthWhenAsync(
                e => e.Data.TryGetValue("cluster:a", out var a) && ((string)a).Contains("disconnected since ", StringComparison.Ordinal),
                "cluster a's view reports its outage");

            Assert.Equal(HealthStatus.Degraded, entry.Status);
            Assert.StartsWith("Degraded", (string)entry.Data["cluster:a"], StringComparison.Ordinal);
            Assert.StartsWith("Healthy", (string)entry.Data["cluster:b"], StringComparison.Ordinal);
            Assert.Contains("cluster 'a': Degraded", entry.Description, StringComparison.Ordinal);
            Assert.Contains("revocations unseen until it reconnects", entry.Description, StringComparison.Ordinal);
            Assert.DoesNotContain("cluster 'b'", entry.Description, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_cluster_whose_api_server_never_answered_is_reported_not_synced()
    {
        await using var issuerA = new KubernetesTestIssuer("https://a.example");
        await using var issuerB = new KubernetesTestIssuer("https://b.example");
        await using var serverA = await KubernetesTestApiServer.StartAsync();
        await using var serverB = await KubernetesTestApiServer.StartAsync();
        ClusterViewHost.SeedShop(serverB);
        using var outage = serverA.SimulateOutage();
        await using var host = await ClustersViewHost.StartAsync(o =>
        {
            o.Audiences.Add("my-api");
            o.Clusters.Add("a", c => ClustersViewHost.ConfigureCluster(c, issuerA, serverA));
            o.Clusters.Add("b", c => ClustersViewHost.ConfigureCluster(c, issuerB, serverB));
        });

        var entry = await host.HealthWhenAsync(
            e => e.Data.TryGetValue("cluster:b", out var b) && ((string)b).StartsWith("Healthy", StringComparison.Ordinal)
                && e.Data.TryGetValue("cluster:a", out var a) && ((string)a).Contains("disconnected", StringComparison.Ordinal),
            "cluster b's view is complete and cluster a's is reported down");

        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Contains("Never listed yet: ", (string)entry.Data["cluster:a"], StringComparison.Ordinal);
        Assert.Contains("pods", (string)entry.Data["cluster:a"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cluster_without_a_view_is_named_as_not_enabled_and_does_not_lower_the_status()
    {
        await using var issuerA = new KubernetesTestIssuer("https://a.example");
        await using var issuerB = new KubernetesTestIssuer("https://b.example");
        await using var serverA = await KubernetesTestApiServer.StartAsync();
        ClusterViewHost.SeedShop(serverA);
        await using var host = await ClustersViewHost.StartAsync(o =>
        {
            o.Audiences.Add("my-api");
            o.Clusters.Add("a", c => ClustersViewHost.ConfigureCluster(c, issuerA, serverA));
            o.Clusters.Add("b", c => ClustersViewHost.ConfigureCluster(c, issuerB, apiServer: null));
        });

        var entry = await host.HealthWhenAsync(e => e.Status == HealthStatus.Healthy, "cluster a's view is complete");

        Assert.StartsWith("Healthy", (string)entry.Data["cluster:a"], StringComparison.Ordinal);
        Assert.StartsWith("Not enabled", (string)entry.Data["cluster:b"], StringComparison.Ordinal);
        Assert.Contains("1 of 1 cluster views of scheme 'k8s'", entry.Description, StringComparison.Ordinal);
        Assert.Contains("Not enabled on: 'b'", entry.Description, StringComparison.Ordinal);
    }
}
