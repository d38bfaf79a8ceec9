// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Tests.Diagnostics;

/// <summary>The keys health check of a scheme holding several clusters reports each cluster.</summary>
public sealed class ClusterHealthTests
{
    [Fact]
    public async Task Keys_health_check_names_the_cluster_whose_keys_cannot_be_used_and_counts_the_healthy_ones()
    {
        await using var good = new KubernetesTestIssuer("https://good.example");
        var missing = Path.Combine(Path.GetTempPath(), $"kubesa-missing-{Guid.NewGuid():N}.json");
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddAuthentication().AddKubernetesServiceAccount("k8s", o =>
        {
            o.Audiences.Add("my-api");
            o.Clusters.Add("prod-eu", c =>
            {
                c.Issuer = good.Issuer;
                foreach (var key in new JsonWebKeySet(good.GetJwks()).Keys)
                {
                    c.SigningKeys.Add(key);
                }
            });
            o.Clusters.Add("prod-us", c =>
            {
                c.Issuer = "https://prod-us.example";
                c.JwksPath = missing;
            });
        });
        services.AddHealthChecks().AddKubernetesServiceAccountKeys("k8s");
        await using var provider = services.BuildServiceProvider();

        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        var entry = Assert.Single(report.Entries).Value;
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("1 of 2 clusters of scheme 'k8s'", entry.Description, StringComparison.Ordinal);
        Assert.Contains("cluster 'prod-us'", entry.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("cluster 'prod-eu'", entry.Description, StringComparison.Ordinal);
        Assert.StartsWith("Healthy", (string)entry.Data["cluster:prod-eu"], StringComparison.Ordinal);
        Assert.StartsWith("Unhealthy", (string)entry.Data["cluster:prod-us"], StringComparison.Ordinal);
    }
}
