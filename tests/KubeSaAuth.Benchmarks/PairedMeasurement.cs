// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Benchmarks;

/// <summary>
/// Ratios that survive a shared machine: JwtBearer and KubeSaAuth run in alternating batches (the order
/// swapped every round), so a burst of load from a neighbour hits both sides alike; the report gives the
/// median time per request of each side over all rounds and the median of the per-round ratios. The
/// unique-token scenario here uses the cache-enabled scheme with every token presented exactly once (a
/// true first sighting: doorkeeper and cache miss included).
/// </summary>
internal static class PairedMeasurement
{
    public static async Task RunAsync(int rounds)
    {
        await using var env = await BenchmarkEnvironment.CreateAsync();
        const int UniqueBatch = 40;
        var uniqueCount = Math.Max(rounds * UniqueBatch, 300);
        Console.WriteLine($"Minting {uniqueCount} unique tokens...");
        var unique = new string[uniqueCount];
        Parallel.For(0, uniqueCount, i => unique[i] = "Bearer " + env.CreateToken());
        var repeated = "Bearer " + env.CreateToken();
        var legacy = "Bearer " + env.CreateLegacyToken();
        var invalid = "Bearer " + env.CreateInvalidSignatureToken();
        var unknownKid = new string[8];
        Parallel.For(0, unknownKid.Length, i => unknownKid[i] = "Bearer " + env.CreateToken(KubeSaAuth.Testing.TestSigningKey.Create()));
        for (var i = 0; i < 2; i++)
        {
            await env.RequestAsync(BenchmarkEnvironment.KubeScheme, repeated, env.KubePolicy);
            await env.RequestAsync(BenchmarkEnvironment.KubeScheme, legacy, env.KubePolicy);
        }

        var kubeContext = env.CreateContext(repeated);
        var jwtContext = env.CreateContext(repeated);
        int jwtUnique = 0, kubeUnique = 0;
        var scenarios = new (string Name, int Batch, Func<int, Task> Jwt, Func<int, Task> Kube)[]
        {
            ("Repeated token (authenticate + policy)", 200,
                i => env.RequestAsync(BenchmarkEnvironment.JwtScheme, repeated, env.JwtPolicy),
                i => env.RequestAsync(BenchmarkEnvironment.KubeScheme, repeated, env.KubePolicy)),
            ("Handler only, repeated token", 200,
                i => env.AuthenticateWithJwtHandlerAsync(jwtContext),
                i => env.AuthenticateWithKubeHandlerAsync(kubeContext)),
            ("Unique tokens, each seen once (authenticate + policy)", UniqueBatch,
                i => env.RequestAsync(BenchmarkEnvironment.JwtScheme, unique[jwtUnique++ % uniqueCount], env.JwtPolicy),
                i => env.RequestAsync(BenchmarkEnvironment.KubeScheme, unique[kubeUnique++ % uniqueCount], env.KubePolicy)),
            ("Invalid signature", 40,
                i => env.RequestAsync(BenchmarkEnvironment.JwtScheme, invalid, env.JwtPolicy),
                i => env.RequestAsync(BenchmarkEnvironment.KubeScheme, invalid, env.KubePolicy)),
            ("Unknown-kid flood", 40,
                i => env.RequestAsync(BenchmarkEnvironment.JwtScheme, unknownKid[i % unknownKid.Length], env.JwtPolicy),
                i => env.RequestAsync(BenchmarkEnvironment.KubeScheme, unknownKid[i % unknownKid.Length], env.KubePolicy)),
            ("Legacy token, repeated", 200,
                i => env.RequestAsync(BenchmarkEnvironment.JwtLegacyScheme, legacy, env.JwtPolicy),
                i => env.RequestAsync(BenchmarkEnvironment.KubeScheme, legacy, env.KubePolicy)),
        };

        // Warm-up of every path (tiered JIT, on 2 busy cores, needs a while): the unique-token paths are
        // warmed through the cache-less scheme, so the tokens measured below stay unseen by the cached one.
        for (var pass = 0; pass < 6; pass++)
        {
            foreach (var (name, _, jwt, kube) in scenarios)
            {
                if (!name.StartsWith("Unique", StringComparison.Ordinal))
                {
                    await TimeBatchAsync(jwt, 300);
                    await TimeBatchAsync(kube, 300);
                }
            }

            await TimeBatchAsync(i => env.RequestAsync(BenchmarkEnvironment.KubeNoCacheScheme, unique[i], env.KubePolicy), 300);
        }

        Console.WriteLine();
        Console.WriteLine($"Paired, {rounds} alternating rounds per scenario, median {(ThreadCpuClock.IsThreadCpuTime ? "thread CPU time" : "wall-clock time")} per request:");
        Console.WriteLine();
        Console.WriteLine("| Scenario | JwtBearer | KubeSaAuth | JwtBearer / KubeSaAuth (median of rounds) |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var (name, batch, jwt, kube) in scenarios)
        {
            var jwtTimes = new double[rounds];
            var kubeTimes = new double[rounds];
            var ratios = new double[rounds];
            for (var r = 0; r < rounds; r++)
            {
                if (r % 2 == 0)
                {
                    jwtTimes[r] = await TimeBatchAsync(jwt, batch);
                    kubeTimes[r] = await TimeBatchAsync(kube, batch);
                }
                else
                {
                    kubeTimes[r] = await TimeBatchAsync(kube, batch);
                    jwtTimes[r] = await TimeBatchAsync(jwt, batch);
                }

                ratios[r] = jwtTimes[r] / kubeTimes[r];
            }

            Console.WriteLine($"| {name} | {Format(Median(jwtTimes))} | {Format(Median(kubeTimes))} | {Median(ratios):0.00}× |");
        }

        Console.WriteLine();
        var verifier = env.KubeKeys.Current!.Keys[0].GetVerifier(Microsoft.IdentityModel.Tokens.SecurityAlgorithms.RsaSha256);
        var token = repeated["Bearer ".Length..];
        var dot = token.LastIndexOf('.');
        var input = System.Text.Encoding.ASCII.GetBytes(token[..dot]);
        var signature = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.DecodeBytes(token[(dot + 1)..]);
        var verifyTimes = new double[rounds];
        for (var r = 0; r < rounds; r++)
        {
            verifyTimes[r] = await TimeBatchAsync(_ => Task.FromResult(verifier.Verify(input, 0, input.Length, signature, 0, signature.Length)), 40);
        }

        Console.WriteLine($"RS256 verification alone (IdentityModel provider): median {Format(Median(verifyTimes))}.");
    }

    private static async Task<double> TimeBatchAsync(Func<int, Task> operation, int count)
    {
        // Everything completes synchronously here, so the whole batch runs on this thread: its CPU time
        // is the cost of the requests, whatever else the shared cores are doing.
        var start = ThreadCpuClock.NowNanoseconds();
        for (var i = 0; i < count; i++)
        {
            await operation(i);
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
}
