// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using KubeSaAuth.Testing;

namespace KubeSaAuth.Benchmarks.EndToEnd;

/// <summary>
/// <c>--e2e</c>: the cost of authentication over real HTTP. Starts a stand-in issuer on loopback, then three
/// servers, each in its own process on 127.0.0.1 with a free port: the sample API (KubeSaAuth, configured
/// through environment variables only), the same endpoints behind plain JwtBearer, and behind a handler that
/// does no work (the floor). Each is driven by <c>wrk</c> over keep-alive connections with a repeated token,
/// unique tokens and no token, in interleaved rounds (the app order rotates every round), and the table
/// gives the median requests/s, p50 and p99 and the per-round ratios.
/// </summary>
internal static class HttpBenchmark
{
    private const string Path = "/admin";
    private const string Section = "Authentication__Schemes__KubernetesServiceAccount__";

    private static readonly string[] Scenarios = ["repeated", "unique", "none"];

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        var sampleDll = ComparisonServer.Argument(args, "--sample") ?? throw new ArgumentException("--sample <KubeSaAuth.Sample.Api.dll> is required.");
        var seconds = Number(args, "--duration", 8);
        var rounds = (int)Number(args, "--rounds", 3);
        var connections = (int)Number(args, "--connections", 32);
        var threads = (int)Number(args, "--threads", 1);
        var poolSize = (int)Number(args, "--pool", 10_000);
        var output = ComparisonServer.Argument(args, "--out") ?? Directory.CreateTempSubdirectory("kubesa-e2e-").FullName;
        Directory.CreateDirectory(output);
        var luaDirectory = System.IO.Path.Combine(AppContext.BaseDirectory, "EndToEnd");
        var duration = TimeSpan.FromSeconds(seconds);
        var clock = Stopwatch.StartNew();

        await using var issuer = await KubernetesTestIssuer.StartAsync();
        Console.WriteLine($"issuer: {issuer.BaseAddress} (key {issuer.ActiveKey.KeyId[..8]}), output in {output}");

        // Tokens: one repeated pod-bound token, a warm-up set, and one pool of never-seen tokens per round.
        var repeated = Mint(issuer, 0);
        var repeatedFile = System.IO.Path.Combine(output, "repeated.txt");
        await File.WriteAllTextAsync(repeatedFile, repeated + "\n");
        var mintClock = Stopwatch.StartNew();
        var warmFile = System.IO.Path.Combine(output, "warmup.txt");
        await File.WriteAllLinesAsync(warmFile, MintMany(issuer, 2_000, 1_000_000));
        var poolFiles = new List<string>();
        for (var r = 0; r < rounds; r++)
        {
            var file = System.IO.Path.Combine(output, $"unique-{r + 1}.txt");
            await File.WriteAllLinesAsync(file, MintMany(issuer, poolSize, (r + 1) * 10_000_000));
            poolFiles.Add(file);
        }

        Console.WriteLine($"minted {2_000 + (rounds * poolSize)} tokens ({repeated.Length} characters each) in {mintClock.Elapsed.TotalSeconds:0.0} s");

        var common = new Dictionary<string, string>
        {
            ["DOTNET_gcServer"] = "1",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__KubeSaAuth"] = "Warning",
        };
        var sampleEnvironment = new Dictionary<string, string>(common)
        {
            [Section + "Issuer"] = issuer.Issuer,
            [Section + "MetadataAddress"] = issuer.MetadataAddress,
            [Section + "Audiences__0"] = ComparisonServer.Audience,
            [Section + "RequireHttpsMetadata"] = "false",
        };
        var benchmarkDll = typeof(HttpBenchmark).Assembly.Location;
        var startup = TimeSpan.FromSeconds(60);
        var apps = new List<ServerProcess>();
        try
        {
            apps.Add(await ServerProcess.StartAsync("KubeSaAuth", sampleDll, [], sampleEnvironment, System.IO.Path.Combine(output, "kubesaauth.log"), startup));
            apps.Add(await ServerProcess.StartAsync("JwtBearer", benchmarkDll, ["--serve", "jwtbearer", "--metadata", issuer.MetadataAddress, "--issuer", issuer.Issuer, "--max-seconds", "1800"], common, System.IO.Path.Combine(output, "jwtbearer.log"), startup));
            apps.Add(await ServerProcess.StartAsync("floor", benchmarkDll, ["--serve", "floor", "--max-seconds", "1800"], common, System.IO.Path.Combine(output, "floor.log"), startup));
            foreach (var app in apps)
            {
                Console.WriteLine($"{app.Name,-10} {app.Address} (pid {app.ProcessId})");
            }

            await CheckAnswersAsync(apps, issuer, repeated);

            // Warm-up: JIT tiers, connection pools, the keys (fetched on first use).
            foreach (var app in apps)
            {
                var url = new Uri(app.Address, Path).ToString();
                await WrkRun.RunAsync(url, Lua(luaDirectory, "repeated"), [repeatedFile], threads, connections, TimeSpan.FromSeconds(3));
                await WrkRun.RunAsync(url, Lua(luaDirectory, "unique"), [warmFile, threads.ToString(CultureInfo.InvariantCulture)], threads, connections, TimeSpan.FromSeconds(2));
                await WrkRun.RunAsync(url, Lua(luaDirectory, "none"), [], threads, connections, TimeSpan.FromSeconds(1));
            }

            var results = new Dictionary<(string App, string Scenario), List<WrkRun>>();
            var problems = new List<string>();
            for (var round = 0; round < rounds; round++)
            {
                foreach (var scenario in Scenarios)
                {
                    for (var i = 0; i < apps.Count; i++)
                    {
                        // Rotate which app goes first, so that no app always follows the same neighbour.
                        var app = apps[(i + round) % apps.Count];
                        var url = new Uri(app.Address, Path).ToString();
                        var run = scenario switch
                        {
                            "repeated" => await WrkRun.RunAsync(url, Lua(luaDirectory, "repeated"), [repeatedFile], threads, connections, duration),
                            "unique" => await WrkRun.RunAsync(url, Lua(luaDirectory, "unique"), [poolFiles[round], threads.ToString(CultureInfo.InvariantCulture)], threads, connections, duration),
                            _ => await WrkRun.RunAsync(url, Lua(luaDirectory, "none"), [], threads, connections, duration),
                        };
                        var expectedNon2xx = scenario == "none" ? run.Requests : 0;
                        if (run.Non2xx != expectedNon2xx || run.SocketErrors != 0)
                        {
                            problems.Add($"round {round + 1} {scenario} {app.Name}: {run.Non2xx} non-2xx of {run.Requests} (expected {expectedNon2xx}), {run.SocketErrors} socket errors");
                        }

                        if (scenario == "unique" && app.Name == "KubeSaAuth" && run.Requests > 2L * poolSize)
                        {
                            problems.Add($"round {round + 1} unique KubeSaAuth: {run.Requests} requests for {poolSize} tokens — laps past the second were cache hits; raise --pool");
                        }

                        if (!results.TryGetValue((app.Name, scenario), out var list))
                        {
                            results[(app.Name, scenario)] = list = [];
                        }

                        list.Add(run);
                        Console.WriteLine($"  round {round + 1} {scenario,-8} {app.Name,-10} {run.RequestsPerSecond,10:N0} req/s  p50 {run.P50Ms,7:0.00} ms  p99 {run.P99Ms,7:0.00} ms  ({run.Requests:N0} requests)");
                    }
                }
            }

            Print(results, rounds, connections, threads, seconds, poolSize, apps);
            Console.WriteLine($"total time {clock.Elapsed.TotalSeconds:0} s");
            foreach (var problem in problems)
            {
                Console.WriteLine($"PROBLEM: {problem}");
            }

            return problems.Count == 0 ? 0 : 1;
        }
        finally
        {
            foreach (var app in apps)
            {
                app.Dispose();
            }
        }
    }

    private static void Print(Dictionary<(string App, string Scenario), List<WrkRun>> results, int rounds, int connections, int threads, double seconds, int poolSize, List<ServerProcess> apps)
    {
        Console.WriteLine();
        Console.WriteLine($"wrk: {threads} thread(s), {connections} keep-alive connections, {seconds:0} s per run, {rounds} interleaved rounds; GET {Path}; unique pool {poolSize:N0} tokens per round");
        Console.WriteLine("Median over rounds (range of requests/s in brackets):");
        Console.WriteLine();
        Console.WriteLine("| Scenario | App | Requests/s | (min–max) | p50 | p99 |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|");
        foreach (var scenario in Scenarios)
        {
            foreach (var app in apps)
            {
                var runs = results[(app.Name, scenario)];
                Console.WriteLine($"| {scenario} | {app.Name} | {Median(runs.Select(r => r.RequestsPerSecond)):N0} | {runs.Min(r => r.RequestsPerSecond):N0}–{runs.Max(r => r.RequestsPerSecond):N0} | {Median(runs.Select(r => r.P50Ms)):0.00} ms | {Median(runs.Select(r => r.P99Ms)):0.00} ms |");
            }
        }

        Console.WriteLine();
        Console.WriteLine("Ratios of requests/s, per round (same round = neighbouring runs), median [per-round values]:");
        Console.WriteLine();
        Console.WriteLine("| Scenario | KubeSaAuth ÷ floor | KubeSaAuth ÷ JwtBearer |");
        Console.WriteLine("|---|---:|---:|");
        foreach (var scenario in Scenarios)
        {
            var kube = results[("KubeSaAuth", scenario)];
            var floor = results[("floor", scenario)];
            var jwt = results[("JwtBearer", scenario)];
            var toFloor = Enumerable.Range(0, rounds).Select(r => kube[r].RequestsPerSecond / floor[r].RequestsPerSecond).ToList();
            var toJwt = Enumerable.Range(0, rounds).Select(r => kube[r].RequestsPerSecond / jwt[r].RequestsPerSecond).ToList();
            Console.WriteLine($"| {scenario} | {Median(toFloor):0.00}× [{string.Join(", ", toFloor.Select(v => v.ToString("0.00", CultureInfo.InvariantCulture)))}] | {Median(toJwt):0.00}× [{string.Join(", ", toJwt.Select(v => v.ToString("0.00", CultureInfo.InvariantCulture)))}] |");
        }

        Console.WriteLine();
        var cached = Median(Enumerable.Range(0, rounds).Select(r => results[("KubeSaAuth", "repeated")][r].RequestsPerSecond / results[("floor", "repeated")][r].RequestsPerSecond));
        var versusJwt = Median(Enumerable.Range(0, rounds).Select(r => results[("KubeSaAuth", "repeated")][r].RequestsPerSecond / results[("JwtBearer", "repeated")][r].RequestsPerSecond));
        Console.WriteLine($"target: KubeSaAuth within 5 % of the floor on a repeated (cached) token: {(cached >= 0.95 ? "reached" : "NOT reached")} ({cached:0.00}× the floor)");
        Console.WriteLine($"target: KubeSaAuth ≥ 2× JwtBearer on a repeated (cached) token: {(versusJwt >= 2 ? "reached" : "NOT reached")} ({versusJwt:0.00}×)");
    }

    /// <summary>Checks that each app answers as the scenarios assume: 200 to good tokens, 401 without one, and (real handlers) 401 to a tampered token.</summary>
    private static async Task CheckAnswersAsync(List<ServerProcess> apps, KubernetesTestIssuer issuer, string repeated)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var unique = Mint(issuer, 999_999_999);
        var tampered = issuer.CreateToken("my-namespace", "my-service-account").Tampered().Build();
        foreach (var app in apps)
        {
            async Task Expect(string? token, HttpStatusCode expected)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(app.Address, Path));
                if (token is not null)
                {
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                }

                using var response = await client.SendAsync(request);
                if (response.StatusCode != expected)
                {
                    throw new InvalidOperationException($"{app.Name} answered {(int)response.StatusCode} where {(int)expected} was expected; the comparison would be meaningless.");
                }
            }

            await Expect(repeated, HttpStatusCode.OK);
            await Expect(unique, HttpStatusCode.OK);
            await Expect(null, HttpStatusCode.Unauthorized);
            await Expect(tampered, app.Name == "floor" ? HttpStatusCode.OK : HttpStatusCode.Unauthorized);
        }
    }

    private static string Mint(KubernetesTestIssuer issuer, int n) =>
        issuer.CreateToken("my-namespace", "my-service-account").WithPod($"web-{n}").WithNode("node-1").Build();

    private static string[] MintMany(KubernetesTestIssuer issuer, int count, int offset)
    {
        var tokens = new string[count];
        Parallel.For(0, count, i => tokens[i] = Mint(issuer, offset + i));
        return tokens;
    }

    private static string Lua(string directory, string name) => System.IO.Path.Combine(directory, name + ".lua");

    private static double Number(IReadOnlyList<string> args, string name, double fallback) =>
        ComparisonServer.Argument(args, name) is { } value ? double.Parse(value, CultureInfo.InvariantCulture) : fallback;

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
