// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Claims;
using KubeSaAuth.Benchmarks.EndToEnd;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Benchmarks;

/// <summary>
/// The cost of many clusters (issue 18): 1, 10 and 100 clusters in ONE scheme (<c>Clusters</c>), and the same
/// numbers of clusters as separate schemes, beside the do-nothing handler (the floor) and plain JwtBearer for one
/// cluster. Every cluster has static keys; the token is the LAST cluster's, cached (the same token again) or
/// unique (each presented once); a request is what the authorization middleware does for
/// <c>[Authorize(Policy = "namespace:my-namespace")]</c>: a request scope and HttpContext, then
/// <see cref="IPolicyEvaluator"/> authenticate and authorize. Variants run in alternating batches, the order
/// rotated every round, so load from neighbours hits all alike; medians of thread CPU time per request, and the
/// median of the per-round ratios to one cluster.
/// </summary>
internal static class ClusterMeasurement
{
    private const string Namespace = "my-namespace";

    public static async Task RunAsync(int rounds)
    {
        const int CachedBatch = 200;
        const int UniqueBatch = 20;
        int[] counts = [1, 10, 100];
        Console.WriteLine($"Creating {counts[^1]} cluster issuers...");
        var issuers = new KubernetesTestIssuer[counts[^1]];
        Parallel.For(0, issuers.Length, i => issuers[i] = new KubernetesTestIssuer($"https://oidc.cluster-{i:000}.example"));

        var variants = new List<Variant>
        {
            Floor(),
            Jwt(issuers[0]),
        };
        foreach (var count in counts)
        {
            variants.Add(OneScheme(issuers, count));
        }

        foreach (var count in counts.Skip(1))
        {
            variants.Add(ManySchemes(issuers, count));
        }

        var uniqueNeeded = (rounds + 2) * UniqueBatch;
        Console.WriteLine($"Minting {uniqueNeeded} unique tokens for each of {variants.Count} variants...");
        foreach (var variant in variants)
        {
            variant.Repeated = "Bearer " + Token(variant.LastIssuer);
            variant.Unique = new string[uniqueNeeded];
            Parallel.For(0, uniqueNeeded, i => variant.Unique[i] = "Bearer " + Token(variant.LastIssuer));
            for (var i = 0; i < 3; i++)
            {
                if (!await variant.RequestAsync(variant.Repeated))
                {
                    throw new InvalidOperationException($"{variant.Name}: the last cluster's token was refused.");
                }
            }
        }

        // Warm-up (tiered JIT on busy cores): every variant, both paths.
        for (var pass = 0; pass < 4; pass++)
        {
            foreach (var variant in variants)
            {
                await TimeAsync(_ => variant.RequestAsync(variant.Repeated), 300);
                await TimeAsync(_ => variant.RequestAsync(variant.NextUnique()), UniqueBatch);
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        var cached = variants.ToDictionary(v => v, _ => new double[rounds]);
        var unique = variants.ToDictionary(v => v, _ => new double[rounds]);
        for (var r = 0; r < rounds; r++)
        {
            for (var k = 0; k < variants.Count; k++)
            {
                var variant = variants[(k + r) % variants.Count];
                cached[variant][r] = await TimeAsync(_ => variant.RequestAsync(variant.Repeated), CachedBatch);
                unique[variant][r] = await TimeAsync(_ => variant.RequestAsync(variant.NextUnique()), UniqueBatch);
            }
        }

        var baseline = variants.Single(v => v.Name == "1 cluster, one scheme");
        Console.WriteLine();
        Console.WriteLine($"Clusters: {rounds} rotating rounds, median {(ThreadCpuClock.IsThreadCpuTime ? "thread CPU time" : "wall-clock time")} per request, token of the last cluster, policy 'namespace:{Namespace}' evaluated as the authorization middleware does:");
        Console.WriteLine();
        Console.WriteLine("| Variant | cached token | ÷ 1 cluster | unique token | ÷ 1 cluster |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var variant in variants)
        {
            var cachedRatio = Median([.. Enumerable.Range(0, rounds).Select(r => cached[variant][r] / cached[baseline][r])]);
            var uniqueRatio = Median([.. Enumerable.Range(0, rounds).Select(r => unique[variant][r] / unique[baseline][r])]);
            Console.WriteLine($"| {variant.Name} | {Format(Median(cached[variant]))} | {cachedRatio:0.00}× | {Format(Median(unique[variant]))} | {uniqueRatio:0.00}× |");
        }

        foreach (var variant in variants)
        {
            await variant.Services.DisposeAsync();
        }

        foreach (var issuer in issuers)
        {
            await issuer.DisposeAsync();
        }
    }

    private static string Token(KubernetesTestIssuer issuer) =>
        issuer.CreateToken(Namespace, "my-service-account")
            .WithPod("my-app-7d9f8b6c5-x2x9q", Guid.NewGuid().ToString())
            .WithNode("ip-10-0-12-34.eu-west-1.compute.internal", Guid.NewGuid().ToString())
            .Build();

    private static void StaticKeys(KubernetesClusterOptions cluster, KubernetesTestIssuer issuer)
    {
        cluster.Issuer = issuer.Issuer;
        foreach (var key in new JsonWebKeySet(issuer.GetJwks()).Keys)
        {
            cluster.SigningKeys.Add(key);
        }
    }

    private static Variant OneScheme(KubernetesTestIssuer[] issuers, int count)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddAuthentication().AddKubernetesServiceAccount("k8s", o =>
        {
            o.Audiences.Add("my-api");
            for (var i = 0; i < count; i++)
            {
                var issuer = issuers[i];
                o.Clusters.Add($"c{i}", c => StaticKeys(c, issuer));
            }
        });
        services.AddAuthorization();
        return Kube(count == 1 ? "1 cluster, one scheme" : $"{count} clusters, one scheme", services, issuers[count - 1]);
    }

    private static Variant ManySchemes(KubernetesTestIssuer[] issuers, int count)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var authentication = services.AddAuthentication();
        for (var i = 0; i < count; i++)
        {
            var issuer = issuers[i];
            authentication.AddKubernetesServiceAccount($"k8s-{i}", o =>
            {
                o.Audiences.Add("my-api");
                StaticKeys(o.Cluster, issuer);
            });
        }

        services.AddAuthorization();
        return Kube($"{count} clusters, {count} schemes", services, issuers[count - 1]);
    }

    private static Variant Kube(string name, ServiceCollection services, KubernetesTestIssuer last)
    {
        var provider = services.BuildServiceProvider();
        var policy = provider.GetRequiredService<IAuthorizationPolicyProvider>().GetPolicyAsync("namespace:" + Namespace).GetAwaiter().GetResult()!;
        return new Variant(name, provider, policy, last);
    }

    private static Variant Jwt(KubernetesTestIssuer issuer)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddAuthentication().AddJwtBearer("jwt", o => o.TokenValidationParameters = new TokenValidationParameters
        {
            ValidIssuer = issuer.Issuer,
            ValidAudiences = issuer.DefaultAudiences,
            IssuerSigningKeys = new JsonWebKeySet(issuer.GetJwks()).GetSigningKeys(),
            ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
        });
        services.AddAuthorization();
        var policy = new AuthorizationPolicyBuilder("jwt")
            .RequireAuthenticatedUser()
            .RequireAssertion(static context =>
                context.User.FindFirst(ClaimTypes.NameIdentifier)?.Value.StartsWith("system:serviceaccount:" + Namespace + ":", StringComparison.Ordinal) == true)
            .Build();
        return new Variant("JwtBearer, 1 cluster", services.BuildServiceProvider(), policy, issuer);
    }

    private static Variant Floor()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, FloorHandler>(FloorHandler.SchemeName, null);
        services.AddAuthorization();
        var policy = new AuthorizationPolicyBuilder(FloorHandler.SchemeName).RequireAuthenticatedUser().Build();
        return new Variant("floor (do-nothing handler)", services.BuildServiceProvider(), policy, new KubernetesTestIssuer("https://floor.example"));
    }

    private static async Task<double> TimeAsync(Func<int, Task<bool>> operation, int count)
    {
        var start = ThreadCpuClock.NowNanoseconds();
        for (var i = 0; i < count; i++)
        {
            if (!await operation(i))
            {
                throw new InvalidOperationException("A request was refused during the measurement.");
            }
        }

        return (ThreadCpuClock.NowNanoseconds() - start) / count;
    }

    private static double Median(double[] values)
    {
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string Format(double nanoseconds) =>
        nanoseconds >= 1000 ? $"{nanoseconds / 1000:0.00} µs" : $"{nanoseconds:0} ns";

    /// <summary>One configuration under measurement.</summary>
    private sealed class Variant(string name, ServiceProvider services, AuthorizationPolicy policy, KubernetesTestIssuer lastIssuer)
    {
        private readonly IServiceScopeFactory _scopes = services.GetRequiredService<IServiceScopeFactory>();
        private readonly IPolicyEvaluator _evaluator = services.GetRequiredService<IPolicyEvaluator>();
        private int _next;

        public string Name { get; } = name;

        public ServiceProvider Services { get; } = services;

        public KubernetesTestIssuer LastIssuer { get; } = lastIssuer;

        public string Repeated { get; set; } = string.Empty;

        public string[] Unique { get; set; } = [];

        public string NextUnique() => Unique[_next++ % Unique.Length];

        /// <summary>What the authorization middleware does for one request: authenticate with the policy's schemes, then authorize.</summary>
        public async Task<bool> RequestAsync(string authorization)
        {
            var scope = _scopes.CreateAsyncScope();
            await using (scope.ConfigureAwait(false))
            {
                var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
                context.Request.Headers.Authorization = authorization;
                var authenticated = await _evaluator.AuthenticateAsync(policy, context).ConfigureAwait(false);
                var authorized = await _evaluator.AuthorizeAsync(policy, authenticated, context, resource: null).ConfigureAwait(false);
                return authorized.Succeeded;
            }
        }
    }
}
