// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.EndToEnd;

/// <summary>
/// One scheme holding 100 clusters, configured as a deployment would be: the sample API in its own process, every
/// cluster from environment variables only (<c>Authentication__Schemes__KubernetesServiceAccount__Clusters__c7__Issuer</c>),
/// each cluster's keys in a JWKS file (<c>JwksPath</c>).
/// </summary>
public sealed class SampleApiClustersTests
{
    private const string Prefix = "Authentication__Schemes__KubernetesServiceAccount__";
    private const int Count = 100;

    [Fact]
    public async Task Sample_admits_the_token_of_each_of_100_clusters_configured_only_by_environment_variables_and_names_its_cluster()
    {
        await using var clusters = await FileClusters.CreateAsync(Count);
        await using var sample = await SampleProcess.StartAsync(clusters.Environment);

        foreach (var (name, issuer) in clusters.Issuers)
        {
            using var response = await sample.GetAsync("/whoami", issuer.CreateToken("my-namespace", "my-service-account").Build());

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await response.Content.ReadAsStringAsync();
            Assert.Contains($"\"cluster\":\"{name}\"", body, StringComparison.Ordinal);
            Assert.Contains($"\"issuer\":\"{issuer.Issuer}\"", body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task No_clusters_key_admits_a_token_naming_another_clusters_issuer()
    {
        await using var clusters = await FileClusters.CreateAsync(Count);
        await using var sample = await SampleProcess.StartAsync(clusters.Environment);
        var issuers = clusters.Issuers.Values.ToArray();

        for (var i = 0; i < issuers.Length; i++)
        {
            // Signed with cluster i's key, naming cluster i+1's issuer.
            var victim = issuers[(i + 1) % issuers.Length];
            using var forged = await sample.GetAsync("/whoami", issuers[i].CreateToken("my-namespace", "my-service-account").WithIssuer(victim.Issuer).Build());

            Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        }
    }

    [Theory]
    [InlineData("RefreshInterval", "00:00:00", "'Clusters:prod-eu:RefreshInterval' option")]
    [InlineData("JwksUri", "https://elsewhere.example/keys", "'Clusters:prod-eu:JwksPath' option gives the keys")]
    public async Task Sample_refuses_to_start_with_a_cluster_whose_options_cannot_work_naming_the_cluster_and_the_option(string key, string value, string expected)
    {
        await using var clusters = await FileClusters.CreateAsync(2);
        var environment = new Dictionary<string, string>(clusters.Environment)
        {
            [Prefix + "Clusters__prod-eu__Issuer"] = "https://prod-eu.example",
            [Prefix + "Clusters__prod-eu__JwksPath"] = clusters.JwksPaths[0],
            [Prefix + $"Clusters__prod-eu__{key.Replace(":", "__", StringComparison.Ordinal)}"] = value,
        };

        var exited = await Assert.ThrowsAsync<SampleExitedException>(() => SampleProcess.StartAsync(environment));

        Assert.NotEqual(0, exited.ExitCode);
        Assert.Contains(expected, exited.Output, StringComparison.Ordinal);
    }

    /// <summary>Clusters c0..c{n-1}, each an in-memory issuer whose JWKS is written to a file, and the environment naming them.</summary>
    private sealed class FileClusters : IAsyncDisposable
    {
        private readonly string _directory;

        private FileClusters(string directory, Dictionary<string, KubernetesTestIssuer> issuers, Dictionary<string, string> environment, List<string> paths)
        {
            _directory = directory;
            Issuers = issuers;
            Environment = environment;
            JwksPaths = paths;
        }

        public Dictionary<string, KubernetesTestIssuer> Issuers { get; }

        public Dictionary<string, string> Environment { get; }

        public List<string> JwksPaths { get; }

        public static async Task<FileClusters> CreateAsync(int count)
        {
            var directory = Directory.CreateTempSubdirectory("kubesa-clusters-").FullName;
            var issuers = new Dictionary<string, KubernetesTestIssuer>();
            var paths = new List<string>();
            var environment = new Dictionary<string, string> { [Prefix + "Audiences__0"] = "my-api" };
            for (var i = 0; i < count; i++)
            {
                var name = $"c{i}";
                var issuer = new KubernetesTestIssuer($"https://{name}.clusters.example");
                var path = Path.Combine(directory, name + ".json");
                await File.WriteAllTextAsync(path, issuer.GetJwks());
                issuers[name] = issuer;
                paths.Add(path);
                environment[Prefix + $"Clusters__{name}__Issuer"] = issuer.Issuer;
                environment[Prefix + $"Clusters__{name}__JwksPath"] = path;
            }

            return new FileClusters(directory, issuers, environment, paths);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var issuer in Issuers.Values)
            {
                await issuer.DisposeAsync();
            }

            Directory.Delete(_directory, recursive: true);
        }
    }
}
