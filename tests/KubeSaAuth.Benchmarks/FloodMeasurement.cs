// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;

namespace KubeSaAuth.Benchmarks;

/// <summary>
/// Memory under a flood of N unique valid tokens (default options: MaxEntries 10000). The managed heap is
/// measured after a full collection, with the tokens themselves already held by the measurement, so the
/// growth is what the handler keeps. Three rounds: every token once (one-shot flood: the doorkeeper only),
/// then twice more (every token admitted: the cache at its bound).
/// </summary>
internal static class FloodMeasurement
{
    public static async Task RunAsync(int count)
    {
        await using var env = await BenchmarkEnvironment.CreateAsync();
        Console.WriteLine($"Minting {count} unique RS256 tokens...");
        var watch = Stopwatch.StartNew();
        var tokens = new string[count];
        Parallel.For(0, count, i => tokens[i] = "Bearer " + env.CreateToken());
        Console.WriteLine($"  done in {watch.Elapsed.TotalSeconds:0.0} s");

        var baseline = Heap();
        Console.WriteLine();
        Console.WriteLine("| Round | Requests | Cache entries | Managed heap growth |");
        Console.WriteLine("|---|---:|---:|---:|");
        var requests = 0;
        for (var round = 1; round <= 3; round++)
        {
            foreach (var token in tokens)
            {
                if (!await env.RequestAsync(BenchmarkEnvironment.KubeScheme, token, env.KubePolicy))
                {
                    throw new InvalidOperationException("A valid token was refused.");
                }

                requests++;
            }

            var label = round == 1 ? "1: each token once" : round == 2 ? "2: each token a second time" : "3: each token a third time";
            Console.WriteLine($"| {label} | {requests} | {env.KubeCache?.Count ?? 0} | {(Heap() - baseline) / 1024.0 / 1024.0:0.0} MB |");
        }

        var jwtBaseline = Heap();
        foreach (var token in tokens)
        {
            await env.RequestAsync(BenchmarkEnvironment.JwtScheme, token, env.JwtPolicy);
        }

        Console.WriteLine($"| JwtBearer, each token once (no cache) | {count} | - | {(Heap() - jwtBaseline) / 1024.0 / 1024.0:0.0} MB |");
        Console.WriteLine();
        Console.WriteLine($"Token length: {tokens[0].Length - 7} characters. Process working set: {Environment.WorkingSet / 1024.0 / 1024.0:0} MB.");
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
