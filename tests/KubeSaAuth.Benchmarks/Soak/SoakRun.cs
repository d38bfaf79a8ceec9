// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using KubeSaAuth.Benchmarks.EndToEnd;
using KubeSaAuth.Testing;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Benchmarks.Soak;

/// <summary>
/// <c>--soak SECONDS</c>: mixed traffic over real HTTP against the sample API (its own process, configured
/// through environment variables) while the stand-in issuer rotates its key and goes down and comes back
/// every <c>--period</c>. Every answer is judged against what the API could know: a good token is due 200
/// (or 403 where the policy says so) when every key set the issuer served around the request lists its key,
/// 401 when none does, either when a fetch was served around it (<see cref="KeyTimeline"/>); a bad token is
/// due 401; no token 401 (200 on /healthz). Reports every wrong decision, every 5xx and unanswered request,
/// p99 and RSS per period; then runs two controls that must be caught (the floor, which admits everything,
/// and the sample API with the wrong audience, which refuses every good token), so that the judge cannot pass
/// by itself. Exits 1 on any wrong decision, 5xx or unanswered request, or a control not caught.
/// </summary>
internal static class SoakRun
{
    private const string Section = "Authentication__Schemes__KubernetesServiceAccount__";
    private const string Audience = "my-api";

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        var seconds = double.Parse(ComparisonServer.Argument(args, "--soak") ?? "60", CultureInfo.InvariantCulture);
        var period = double.Parse(ComparisonServer.Argument(args, "--period") ?? (seconds <= 120 ? "15" : "60"), CultureInfo.InvariantCulture);
        var rate = double.Parse(ComparisonServer.Argument(args, "--rate") ?? "200", CultureInfo.InvariantCulture);
        var sampleDll = ComparisonServer.Argument(args, "--sample") ?? throw new ArgumentException("--sample <KubeSaAuth.Sample.Api.dll> is required.");
        var output = ComparisonServer.Argument(args, "--out") ?? Directory.CreateTempSubdirectory("kubesa-soak-").FullName;

        var issuer = new KubernetesTestIssuer();
        await using var front = new IssuerFront(issuer);
        await front.StartAsync();
        issuer.PublishedJwksUri = new Uri(front.Address, "openid/v1/jwks").ToString();
        Console.WriteLine($"soak: {seconds:0} s, issuer rotates and fails every {period:0} s, {rate:0} requests/s; output in {output}");

        var environment = SampleEnvironment(issuer, front, Audience);
        var traffic = new Traffic(issuer);
        int failures;
        using (var api = await ServerProcess.StartAsync("KubeSaAuth", sampleDll, [], environment, Path.Combine(output, "soak-api.log"), TimeSpan.FromSeconds(60)))
        {
            var result = await traffic.RunAsync(api, front.Timeline, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(period), rate, chaos: true);
            failures = result.Report(Console.Out, TimeSpan.FromSeconds(period));
            Console.WriteLine($"issuer: {front.Timeline.Count} key sets served, {issuer.JwksRequests} JWKS requests, {traffic.Rotations} rotations, {traffic.Outages} outages");
        }

        // Controls: the same judge must catch a handler that admits everything and one that refuses good tokens.
        Console.WriteLine();
        Console.WriteLine("controls (the judge must catch these):");
        await using var floorFront = new IssuerFront(issuer);
        await floorFront.StartAsync();
        using (var floor = await ServerProcess.StartAsync("floor", typeof(SoakRun).Assembly.Location, ["--serve", "floor", "--max-seconds", "120"], Common(), Path.Combine(output, "control-floor.log"), TimeSpan.FromSeconds(60)))
        {
            var result = await traffic.RunAsync(floor, floorFront.Timeline, TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(period), rate, chaos: false);
            var caught = result.WrongAdmissions > 0;
            Console.WriteLine($"  floor (admits every token): {result.WrongAdmissions} wrong admissions caught of {result.Total} requests — {(caught ? "caught" : "NOT CAUGHT")}");
            failures += caught ? 0 : 1;
        }

        await using var audienceFront = new IssuerFront(issuer);
        await audienceFront.StartAsync();
        using (var wrongAudience = await ServerProcess.StartAsync("KubeSaAuth (audience other-api)", sampleDll, [], WithWarmUp(SampleEnvironment(issuer, audienceFront, "other-api")), Path.Combine(output, "control-audience.log"), TimeSpan.FromSeconds(60)))
        {
            var result = await traffic.RunAsync(wrongAudience, audienceFront.Timeline, TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(period), rate, chaos: false);
            var caught = result.WrongRefusals > 0;
            Console.WriteLine($"  sample API with the wrong audience (refuses good tokens): {result.WrongRefusals} wrong refusals caught of {result.Total} requests — {(caught ? "caught" : "NOT CAUGHT")}");
            failures += caught ? 0 : 1;
        }

        Console.WriteLine(failures == 0 ? "soak: PASSED" : $"soak: FAILED ({failures} problem(s))");
        return failures == 0 ? 0 : 1;
    }

    // The wrong-audience control refuses before it needs a key, so it fetches them at start to hold them.
    private static Dictionary<string, string> WithWarmUp(Dictionary<string, string> environment)
    {
        environment[Section + "WarmUpOnStartup"] = "true";
        return environment;
    }

    private static Dictionary<string, string> Common() => new()
    {
        ["DOTNET_gcServer"] = "1",
        ["Logging__LogLevel__Default"] = "Warning",
        ["Logging__LogLevel__KubeSaAuth"] = "Warning",
    };

    private static Dictionary<string, string> SampleEnvironment(KubernetesTestIssuer issuer, IssuerFront front, string audience)
    {
        var environment = Common();
        environment[Section + "Issuer"] = issuer.Issuer;
        environment[Section + "MetadataAddress"] = new Uri(front.Address, ".well-known/openid-configuration").ToString();
        environment[Section + "JwksUri"] = new Uri(front.Address, "openid/v1/jwks").ToString();
        environment[Section + "Audiences__0"] = audience;
        environment[Section + "RequireHttpsMetadata"] = "false";
        environment[Section + "RefreshInterval"] = "00:00:01";
        environment[Section + "AutomaticRefreshInterval"] = "00:00:05";
        return environment;
    }

    /// <summary>A token (or header) sent, what the judge needs to know about it, and where.</summary>
    private sealed record Probe(string Kind, string Path, string? Header, string? Kid, int AuthenticatedStatus, bool Bad);

    private sealed record Outcome(string Kind, long SentAt, long AnsweredAt, int Status, bool Judged, string? Wrong, Holding? Holding);

    private sealed class Traffic
    {
        private readonly KubernetesTestIssuer _issuer;
        private readonly List<(TestSigningKey Key, Probe[] Pool)> _eras = [];
        private readonly TestSigningKey[] _unknown = [TestSigningKey.Create(), TestSigningKey.Create()];
        private Probe[] _hostile = [];

        public Traffic(KubernetesTestIssuer issuer)
        {
            _issuer = issuer;
            NewEra(issuer.ActiveKey);
        }

        public int Rotations { get; private set; }

        public int Outages { get; private set; }

        public async Task<SoakResult> RunAsync(ServerProcess target, KeyTimeline timeline, TimeSpan duration, TimeSpan period, double rate, bool chaos)
        {
            var outcomes = new ConcurrentQueue<Outcome>();
            var rss = new ConcurrentQueue<(long At, long Bytes)>();
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 16, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
            using var client = new HttpClient(handler) { BaseAddress = target.Address, Timeout = TimeSpan.FromSeconds(30) };
            var start = Stopwatch.GetTimestamp();
            var end = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            using var stop = new CancellationTokenSource();

            var sampler = Task.Run(async () =>
            {
                while (Stopwatch.GetTimestamp() < end)
                {
                    rss.Enqueue((Stopwatch.GetTimestamp(), target.ReadResidentBytes()));
                    await Task.Delay(1000);
                }
            });
            var chaosTask = chaos ? Task.Run(() => ChaosAsync(start, end, period)) : Task.CompletedTask;
            const int workers = 16;
            var interval = TimeSpan.FromSeconds(workers / rate);
            var tasks = Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
            {
                var random = new Random(w * 7919);
                var next = Stopwatch.GetTimestamp() + (long)(random.NextDouble() * interval.TotalSeconds * Stopwatch.Frequency);
                while (Stopwatch.GetTimestamp() < end)
                {
                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait);
                    }

                    next += (long)(interval.TotalSeconds * Stopwatch.Frequency);
                    var probe = Pick(random);
                    outcomes.Enqueue(await SendAsync(client, probe, timeline));
                }
            })).ToArray();
            await Task.WhenAll(tasks);
            await chaosTask;
            await sampler;
            return new SoakResult(start, [.. outcomes], [.. rss]);
        }

        private async Task ChaosAsync(long start, long end, TimeSpan period)
        {
            var faults = new[] { IssuerFault.ServiceUnavailable, IssuerFault.Hang, IssuerFault.InvalidJson, IssuerFault.Unauthorized };
            for (var cycle = 0; ; cycle++)
            {
                var cycleStart = start + (long)(cycle * period.TotalSeconds * Stopwatch.Frequency);
                async Task<bool> At(double fraction)
                {
                    var at = cycleStart + (long)(fraction * period.TotalSeconds * Stopwatch.Frequency);
                    if (at >= end)
                    {
                        return false;
                    }

                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), at);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait);
                    }

                    return true;
                }

                // Even cycles rotate while the issuer is up, odd ones while it is down.
                if (cycle > 0 && cycle % 2 == 0)
                {
                    if (!await At(0.05))
                    {
                        return;
                    }

                    Rotate();
                }

                if (!await At(0.35))
                {
                    return;
                }

                _issuer.Fault = faults[cycle % faults.Length];
                Outages++;
                if (cycle % 2 == 1)
                {
                    if (!await At(0.5))
                    {
                        _issuer.Fault = IssuerFault.None;
                        return;
                    }

                    Rotate();
                }

                var up = await At(0.7);
                _issuer.Fault = IssuerFault.None;
                if (!up)
                {
                    return;
                }
            }
        }

        /// <summary>Publishes a new key and signs with it; removes the key of two rotations ago (revocation).</summary>
        private void Rotate()
        {
            var key = _issuer.RotateKey();
            lock (_eras)
            {
                if (_eras.Count >= 2)
                {
                    _issuer.RemoveKey(_eras[^2].Key);
                }
            }

            NewEra(key);
            Rotations++;
        }

        private void NewEra(TestSigningKey key)
        {
            Probe Good(string ns, string sa, string path, int status) =>
                new("repeated", path, "Bearer " + _issuer.CreateToken(ns, sa).WithPod($"{sa}-{Guid.NewGuid():N}"[..20]).WithNode("node-1").SignedWith(key).Build(), key.KeyId, status, false);
            var pool = new[]
            {
                Good("my-namespace", "my-service-account", "/admin", 200),
                Good("my-namespace", "my-service-account", "/whoami", 200),
                Good("my-namespace", "batch", "/reports", 200),
                Good("billing", "invoicer", "/reports", 403),
                Good("billing", "invoicer", "/whoami", 200),
                Good("team-a", "web", "/admin", 403),
            };
            Probe Bad(string kind, string header) => new(kind, "/whoami", header, null, 401, true);
            var good = _issuer.CreateToken("my-namespace", "my-service-account").SignedWith(key).Build();
            var parts = good.Split('.');
            var none = Base64UrlEncoder.Encode("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "." + parts[1] + ".";
            var hostile = new[]
            {
                Bad("expired", "Bearer " + _issuer.CreateToken("my-namespace", "my-service-account").Expired().SignedWith(key).Build()),
                Bad("not-yet-valid", "Bearer " + _issuer.CreateToken("my-namespace", "my-service-account").NotYetValid().SignedWith(key).Build()),
                Bad("wrong-audience", "Bearer " + _issuer.CreateToken("my-namespace", "my-service-account").WithWrongAudience().SignedWith(key).Build()),
                Bad("tampered", "Bearer " + _issuer.CreateToken("my-namespace", "my-service-account").Tampered().SignedWith(key).Build()),
                Bad("legacy", "Bearer " + _issuer.CreateToken("my-namespace", "my-service-account").Legacy().SignedWith(key).Build()),
                Bad("other-issuer", "Bearer " + _issuer.CreateToken("my-namespace", "my-service-account").WithIssuer("https://oidc.other-cluster.example").SignedWith(key).Build()),
                Bad("unknown-key", "Bearer " + _issuer.CreateToken("my-namespace", "my-service-account").SignedWith(_unknown[0]).Build()),
                Bad("unknown-key", "Bearer " + _issuer.CreateToken("kube-system", "admin").SignedWith(_unknown[1]).Build()),
                Bad("alg-none", "Bearer " + none),
                Bad("signature-swapped", "Bearer " + parts[0] + "." + parts[1] + "." + _eras.LastOrDefault().Pool?[0].Header?.Split('.')[2]),
                Bad("garbage", "Bearer not.a.jwt"),
                Bad("garbage", "Bearer " + new string('A', 300)),
                Bad("oversized", "Bearer " + parts[0] + "." + Base64UrlEncoder.Encode(new string('x', 15_000)) + "." + parts[2]),
                Bad("not-bearer", "Basic dXNlcjpwYXNz"),
                Bad("empty-bearer", "Bearer "),
                Bad("two-tokens", "Bearer " + good + " " + good),
            };
            lock (_eras)
            {
                _eras.Add((key, pool));
                _hostile = hostile;
            }
        }

        private Probe Pick(Random random)
        {
            var roll = random.NextDouble();
            lock (_eras)
            {
                if (roll < 0.30)
                {
                    var pool = _eras[^1].Pool;
                    return pool[random.Next(pool.Length)];
                }

                if (roll < 0.45)
                {
                    // Older eras: their keys are still published for a while, then removed.
                    var era = _eras[Math.Max(0, _eras.Count - 1 - random.Next(1, 4))].Pool;
                    return era[random.Next(era.Length)];
                }

                if (roll < 0.70)
                {
                    return _hostile[random.Next(_hostile.Length)];
                }

                if (roll < 0.80)
                {
                    return new Probe("none", "/whoami", null, null, 401, true);
                }

                if (roll < 0.85)
                {
                    return new Probe("healthz", "/healthz", null, null, 200, false);
                }
            }

            // Unique: a token never sent before, signed with whatever key the issuer signs with now.
            var token = _issuer.CreateToken("my-namespace", "my-service-account").WithPod($"web-{Guid.NewGuid():N}"[..24]).WithNode("node-1").Build();
            return new Probe("unique", "/whoami", "Bearer " + token, KidOf(token), 200, false);
        }

        private static string KidOf(string token)
        {
            using var header = JsonDocument.Parse(Base64UrlEncoder.Decode(token[..token.IndexOf('.', StringComparison.Ordinal)]));
            return header.RootElement.GetProperty("kid").GetString()!;
        }

        private static async Task<Outcome> SendAsync(HttpClient client, Probe probe, KeyTimeline timeline)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, probe.Path);
            if (probe.Header is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", probe.Header);
            }

            var sent = Stopwatch.GetTimestamp();
            int status;
            string? detail = null;
            try
            {
                using var response = await client.SendAsync(request);
                status = (int)response.StatusCode;
                if (status == 401)
                {
                    detail = response.Headers.WwwAuthenticate.ToString();
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                return new Outcome(probe.Kind, sent, Stopwatch.GetTimestamp(), 0, true, $"unanswered: {ex.GetType().Name} {ex.Message}", null);
            }

            var answered = Stopwatch.GetTimestamp();
            if (status >= 500)
            {
                return new Outcome(probe.Kind, sent, answered, status, true, $"{status} for a {probe.Kind} request", null);
            }

            if (probe.Bad || probe.Kind == "healthz")
            {
                return new Outcome(probe.Kind, sent, answered, status, true, status == probe.AuthenticatedStatus ? null
                    : status is 200 or 403 ? $"bad token admitted ({probe.Kind}, {status} on {probe.Path})" : $"{status} for {probe.Kind} on {probe.Path} (expected {probe.AuthenticatedStatus})", null);
            }

            var holding = timeline.Classify(probe.Kid!, sent, answered);
            string? wrong = (holding, status) switch
            {
                (Holding.Held, 401) => $"good {probe.Kind} token refused while its key {probe.Kid![..8]} was in hand: {detail}",
                (Holding.NotHeld, 200 or 403) => $"{probe.Kind} token admitted ({status}) while its key {probe.Kid![..8]} was not in hand",
                _ when status != 401 && status != probe.AuthenticatedStatus => $"{status} for a good {probe.Kind} token on {probe.Path} (expected {probe.AuthenticatedStatus} or 401)",
                _ => null,
            };
            return new Outcome(probe.Kind, sent, answered, status, true, wrong, holding);
        }
    }

    private sealed class SoakResult(long start, Outcome[] outcomes, (long At, long Bytes)[] rss)
    {
        public int Total => outcomes.Length;

        public int WrongAdmissions => outcomes.Count(o => o.Wrong is not null && (o.Wrong.Contains("admitted", StringComparison.Ordinal)));

        public int WrongRefusals => outcomes.Count(o => o.Wrong is not null && o.Wrong.Contains("refused while", StringComparison.Ordinal));

        public int Report(TextWriter writer, TimeSpan bucket)
        {
            double Seconds(long at) => (at - start) / (double)Stopwatch.Frequency;
            var wrong = outcomes.Where(o => o.Wrong is not null).ToList();
            var serverErrors = outcomes.Count(o => o.Status >= 500);
            var unanswered = outcomes.Count(o => o.Status == 0);
            writer.WriteLine();
            writer.WriteLine($"| {bucket.TotalSeconds:0} s from | requests | wrong | 5xx | p99 all | p99 good, key in hand | RSS |");
            writer.WriteLine("|---:|---:|---:|---:|---:|---:|---:|");
            var buckets = outcomes.GroupBy(o => (int)(Seconds(o.SentAt) / bucket.TotalSeconds)).OrderBy(g => g.Key).ToList();

            // The few requests sent in the run's last instant open a period of their own, with no RSS sample:
            // they belong to the last full period.
            if (buckets.Count >= 2 && buckets[^1].Count() < buckets[^2].Count() / 10)
            {
                var tail = buckets[^1];
                var merged = buckets[^2].Concat(tail).GroupBy(_ => buckets[^2].Key).Single();
                buckets[^2] = merged;
                buckets.RemoveAt(buckets.Count - 1);
            }

            var rssByBucket = new List<double>();
            foreach (var group in buckets)
            {
                var all = group.Select(o => (o.AnsweredAt - o.SentAt) * 1000.0 / Stopwatch.Frequency).Order().ToArray();
                var held = group.Where(o => o.Holding == Holding.Held).Select(o => (o.AnsweredAt - o.SentAt) * 1000.0 / Stopwatch.Frequency).Order().ToArray();
                var memory = rss.Where(s => (int)(Seconds(s.At) / bucket.TotalSeconds) == group.Key).Select(s => s.Bytes / 1048576.0).ToArray();
                var meanRss = memory.Length == 0 ? double.NaN : memory.Average();
                rssByBucket.Add(meanRss);
                writer.WriteLine($"| {group.Key * bucket.TotalSeconds:0} | {group.Count()} | {group.Count(o => o.Wrong is not null)} | {group.Count(o => o.Status >= 500)} | {P99(all):0.0} ms | {P99(held):0.0} ms | {meanRss:0} MB |");
            }

            writer.WriteLine();
            writer.WriteLine("answers by kind:");
            foreach (var kind in outcomes.GroupBy(o => o.Kind).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var statuses = string.Join(", ", kind.GroupBy(o => o.Status).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}"));
                var holdings = kind.Any(o => o.Holding is not null)
                    ? " — key " + string.Join(", ", kind.Where(o => o.Holding is not null).GroupBy(o => o.Holding!.Value).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}"))
                    : string.Empty;
                writer.WriteLine($"  {kind.Key,-18} {kind.Count(),7}  ({statuses}){holdings}");
            }

            var sampled = rssByBucket.Where(m => !double.IsNaN(m)).ToList();
            if (sampled.Count >= 3)
            {
                var second = sampled[1];
                var last = sampled[^1];
                writer.WriteLine($"RSS: second period {second:0} MB, last {last:0} MB ({(last - second) / second * 100:+0.0;-0.0} %) — {(Math.Abs(last - second) <= second * 0.10 ? "flat (within 10 %)" : "NOT within 10 %")}");
            }

            writer.WriteLine($"{outcomes.Length} requests: {wrong.Count} wrong decisions, {serverErrors} × 5xx, {unanswered} unanswered");
            foreach (var o in wrong.Take(30))
            {
                writer.WriteLine($"  WRONG at {Seconds(o.SentAt):0.0} s: {o.Wrong}");
            }

            return wrong.Count;
        }

        private static double P99(double[] sorted) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(sorted.Length * 0.99) - 1)];
    }
}
