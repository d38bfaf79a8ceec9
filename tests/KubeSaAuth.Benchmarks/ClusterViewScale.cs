// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using KubeSaAuth.ClusterView;
using KubeSaAuth.Schemes;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Benchmarks;

/// <summary>
/// The cluster view at scale: <c>--view-scale [pods] [namespaces]</c> starts the stand-in API server in a
/// child process (<c>--view-serve</c>, so that its objects do not count in this process's memory), fills it with
/// Pods in namespaces, then measures in this process: the time to a complete view, the bytes received, the RSS
/// and managed heap added by the view (this process before the view started is "the same app without the view"),
/// and, paired in alternating rounds, the per-request cost of a <c>pod-selector:</c> policy on a cached token beside
/// a <c>namespace:</c> policy and the do-nothing floor.
/// </summary>
internal static class ClusterViewScale
{
    private const string ViewScheme = "k8s-view";
    private const string PlainScheme = "k8s-plain";

    /// <summary>The child: serves <paramref name="pods"/> Pods in <paramref name="namespaces"/> namespaces until stdin closes.</summary>
    public static async Task<int> ServeAsync(int pods, int namespaces, bool streaming)
    {
        await using var server = await KubernetesTestApiServer.StartAsync();
        server.StreamingLists = streaming;
        server.BookmarkInterval = TimeSpan.FromSeconds(30);
        for (var n = 0; n < namespaces; n++)
        {
            var ns = Namespace(n);
            server.AddNamespace(ns, new Dictionary<string, string> { ["env"] = n % 2 == 0 ? "prod" : "staging", ["team"] = $"team-{n % 20}", ["kubernetes.io/metadata.name"] = ns });
            for (var a = 0; a < 5; a++)
            {
                server.AddServiceAccount(ns, $"app-{a}");
            }
        }

        for (var p = 0; p < pods; p++)
        {
            var n = p % namespaces;
            var app = (p / namespaces) % 5;
            server.AddPod(Namespace(n), PodName(p, namespaces), new Dictionary<string, string>
            {
                ["app"] = $"app-{app}",
                ["app.kubernetes.io/name"] = $"app-{app}",
                ["app.kubernetes.io/part-of"] = "shop",
                ["pod-template-hash"] = $"7d9f8b6c{n % 100:00}",
                ["tier"] = p % 10 == 0 ? "canary" : "stable",
                ["version"] = "v1.2.3",
            });
        }

        Console.WriteLine("READY " + server.BaseAddress);
        await Console.In.ReadToEndAsync().ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> RunAsync(int pods, int namespaces, int rounds, bool streaming)
    {
        using var child = StartServer(pods, namespaces, streaming, out var address);
        Console.WriteLine($"Stand-in API server (child process {child.Id}) at {address}: {pods} pods, {namespaces * 5} service accounts, {namespaces} namespaces; " +
            (streaming ? "serves streaming lists." : "refuses streaming lists (422): paged LISTs."));

        var issuer = new KubernetesTestIssuer();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddAuthentication()
            .AddKubernetesServiceAccount(ViewScheme, o =>
            {
                issuer.Configure(o, inProcess: true);
                o.ClusterView.Enabled = true;
                o.ClusterView.ApiServer = address;
            })
            .AddKubernetesServiceAccount(PlainScheme, o => issuer.Configure(o, inProcess: true));
        services.AddAuthorization();
        await using var provider = services.BuildServiceProvider();
        var runtimes = provider.GetRequiredService<SchemeRuntimeFactory>();
        var monitor = provider.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>();
        var view = runtimes.GetOrCreate(ViewScheme, monitor.Get(ViewScheme)).View!;
        runtimes.GetOrCreate(PlainScheme, monitor.Get(PlainScheme));

        var (rssBefore, heapBefore) = Memory();
        var watch = Stopwatch.StartNew();
        view.Start();
        await view.Synced.ConfigureAwait(false);
        var synced = watch.Elapsed;
        var bytes = view.Client.BytesReceived;
        var requests = view.Client.Requests;
        var (rssAfter, heapAfter) = Memory();

        Console.WriteLine();
        Console.WriteLine("| Measure | Value | Goal |");
        Console.WriteLine("|---|---:|---|");
        Console.WriteLine($"| Time to a complete view ({view.Pods.Count} pods, {view.ServiceAccounts.Count} service accounts, {view.Namespaces!.Count} namespaces) | {synced.TotalSeconds:0.00} s | < 20 s |");
        Console.WriteLine($"| RSS added by the view | {Mib(rssAfter - rssBefore)} | ≤ 128 MiB |");
        Console.WriteLine($"| Managed heap added by the view (after a full GC) | {Mib(heapAfter - heapBefore)} | |");
        Console.WriteLine($"| Bytes received ({(streaming ? "streaming lists" : "LIST pages")}; metadata only) | {Mib(bytes)} in {requests} requests ({(double)bytes / Math.Max(1, pods):0} B per pod) | reported |");
        Console.WriteLine($"| Interned label strings | {view.Pool.Count} | |");

        await MeasureRequestsAsync(provider, issuer, view, namespaces, rounds).ConfigureAwait(false);
        await view.StopAsync().ConfigureAwait(false);
        child.StandardInput.Close();
        await child.WaitForExitAsync().ConfigureAwait(false);
        return 0;
    }

    private static async Task MeasureRequestsAsync(IServiceProvider provider, KubernetesTestIssuer issuer, KubernetesClusterView view, int namespaces, int rounds)
    {
        const int Batch = 200;
        var ns = Namespace(3);
        var podName = PodName(3 + namespaces, namespaces);
        view.Pods.TryGet(ns, podName, out var pod);
        view.ServiceAccounts.TryGet(ns, "app-1", out var account);
        var token = "Bearer " + issuer.CreateToken(ns, "app-1").WithServiceAccountUid(account!.Uid).WithPod(podName, pod!.Uid).WithNode("node-1").Build();
        var policies = provider.GetRequiredService<IAuthorizationPolicyProvider>();
        var namespacePolicy = (await policies.GetPolicyAsync("namespace:" + ns).ConfigureAwait(false))!;
        var podPolicy = (await policies.GetPolicyAsync("pod-selector:app in (app-1,app-2),tier!=canary").ConfigureAwait(false))!;
        var authorization = provider.GetRequiredService<IAuthorizationService>();
        var scopes = provider.GetRequiredService<IServiceScopeFactory>();

        async Task<bool> RequestAsync(string scheme, AuthorizationPolicy? policy)
        {
            var scope = scopes.CreateAsyncScope();
            await using (scope.ConfigureAwait(false))
            {
                var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
                context.Request.Headers.Authorization = token;
                if (policy is null)
                {
                    return context.Request.Headers.Authorization.Count == 1;
                }

                var result = await context.AuthenticateAsync(scheme).ConfigureAwait(false);
                return result.Succeeded && (await authorization.AuthorizeAsync(result.Principal, null, policy).ConfigureAwait(false)).Succeeded;
            }
        }

        var scenarios = new (string Name, Func<Task<bool>> Run)[]
        {
            ("Floor (request scope + HttpContext, nothing authenticated)", () => RequestAsync(PlainScheme, null)),
            ("`namespace:` policy, view off", () => RequestAsync(PlainScheme, namespacePolicy)),
            ("`namespace:` policy, view on (revocation check)", () => RequestAsync(ViewScheme, namespacePolicy)),
            ("`pod-selector:app in (app-1,app-2),tier!=canary`, view on", () => RequestAsync(ViewScheme, podPolicy)),
        };

        foreach (var (name, run) in scenarios)
        {
            for (var i = 0; i < 3; i++)
            {
                if (!await run().ConfigureAwait(false))
                {
                    throw new InvalidOperationException($"{name}: the request was refused.");
                }
            }
        }

        for (var pass = 0; pass < 5; pass++)
        {
            foreach (var (_, run) in scenarios)
            {
                await TimeAsync(run, 500).ConfigureAwait(false);
            }

            await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }

        var times = new double[scenarios.Length][];
        var ratios = new double[rounds];
        for (var s = 0; s < scenarios.Length; s++)
        {
            times[s] = new double[rounds];
        }

        for (var r = 0; r < rounds; r++)
        {
            // The order rotates every round, so that a neighbour's burst hits every scenario alike.
            for (var k = 0; k < scenarios.Length; k++)
            {
                var s = (k + r) % scenarios.Length;
                times[s][r] = await TimeAsync(scenarios[s].Run, Batch).ConfigureAwait(false);
            }

            ratios[r] = times[3][r] / times[2][r];
        }

        Console.WriteLine();
        Console.WriteLine($"Per request, cached token, median of {rounds} rotating rounds of {Batch} ({(ThreadCpuClock.IsThreadCpuTime ? "thread CPU time" : "wall-clock time")}):");
        Console.WriteLine();
        Console.WriteLine("| Scenario | Median per request |");
        Console.WriteLine("|---|---:|");
        for (var s = 0; s < scenarios.Length; s++)
        {
            Console.WriteLine($"| {scenarios[s].Name} | {Format(Median(times[s]))} |");
        }

        Console.WriteLine();
        Console.WriteLine($"`pod-selector:` / `namespace:` (both with the view), median of per-round ratios: {Median(ratios):0.000}× (goal ≤ 1.05×).");
    }

    private static Process StartServer(int pods, int namespaces, bool streaming, out string address)
    {
        var self = Environment.ProcessPath!;
        var info = new ProcessStartInfo { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.FileName = self;
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            info.ArgumentList.Add(typeof(ClusterViewScale).Assembly.Location);
        }

        info.ArgumentList.Add("--view-serve");
        info.ArgumentList.Add(pods.ToString(CultureInfo.InvariantCulture));
        info.ArgumentList.Add(namespaces.ToString(CultureInfo.InvariantCulture));
        if (streaming)
        {
            info.ArgumentList.Add("--streaming");
        }

        var child = Process.Start(info)!;
        while (child.StandardOutput.ReadLine() is { } line)
        {
            if (line.StartsWith("READY ", StringComparison.Ordinal))
            {
                address = line["READY ".Length..];
                return child;
            }
        }

        throw new InvalidOperationException("The stand-in API server did not start.");
    }

    private static (long Rss, long Heap) Memory()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return (process.WorkingSet64, GC.GetTotalMemory(forceFullCollection: true));
    }

    private static async Task<double> TimeAsync(Func<Task<bool>> run, int count)
    {
        var start = ThreadCpuClock.NowNanoseconds();
        for (var i = 0; i < count; i++)
        {
            await run().ConfigureAwait(false);
        }

        return (ThreadCpuClock.NowNanoseconds() - start) / count;
    }

    private static string Namespace(int n) => $"ns-{n:000}";

    private static string PodName(int p, int namespaces) => $"app-{(p / namespaces) % 5}-7d9f8b6c5-{p:x6}";

    private static double Median(double[] values)
    {
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024):0.0} MiB";

    private static string Format(double nanoseconds) =>
        nanoseconds >= 1000 ? $"{nanoseconds / 1000:0.00} µs" : $"{nanoseconds:0} ns";
}
