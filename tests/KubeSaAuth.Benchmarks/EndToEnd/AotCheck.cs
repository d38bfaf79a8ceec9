// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using KubeSaAuth.Testing;

namespace KubeSaAuth.Benchmarks.EndToEnd;

/// <summary>
/// <c>--aot --native PATH [--jit DLL] [--runs N]</c> (run by <c>.ci/aot-check</c>): starts a stand-in issuer on
/// loopback, then the Native AOT sample API configured through environment variables only, and sends it one
/// authenticated request (must be 200) and one without a token (must be 401); prints the status lines. Then the
/// cluster view, in the same binary: a stand-in API server (<see cref="KubernetesTestApiServer"/>) with labelled
/// Namespaces and Pods, <c>ClusterView:*</c> from the environment, <c>/prod</c> and <c>/checkout</c> decided by labels,
/// and a deleted Pod's token refused (401, naming the Pod) once the watch event arrives. With
/// <c>--jit</c>, starts the JIT build and the native one alternately N times and prints, for each, the time
/// from process start to the first authenticated answer, the RSS after it, and the size on disk.
/// </summary>
internal static class AotCheck
{
    private const string Section = "Authentication__Schemes__KubernetesServiceAccount__";

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        var native = ComparisonServer.Argument(args, "--native") ?? throw new ArgumentException("--native <KubeSaAuth.Sample.Api executable> is required.");
        var jit = ComparisonServer.Argument(args, "--jit");
        var runs = int.Parse(ComparisonServer.Argument(args, "--runs") ?? "3", CultureInfo.InvariantCulture);
        var output = Directory.CreateTempSubdirectory("kubesa-aot-").FullName;

        await using var issuer = await KubernetesTestIssuer.StartAsync();
        var token = issuer.CreateToken("my-namespace", "my-service-account").WithPod("web-1").WithNode("node-1").Build();
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__LogLevel__Default"] = "Warning",
            [Section + "Issuer"] = issuer.Issuer,
            [Section + "MetadataAddress"] = issuer.MetadataAddress,
            [Section + "Audiences__0"] = ComparisonServer.Audience,
            [Section + "RequireHttpsMetadata"] = "false",
            [Section + "ClockSkew"] = "00:00:30",
        };
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        // The check: the native binary, configured only through the environment, authenticates a caller.
        using (var app = await ServerProcess.StartAsync("native", native, [], environment, Path.Combine(output, "native.log"), TimeSpan.FromSeconds(60)))
        {
            var ok = await SendAsync(client, app.Address, "/whoami", token);
            var none = await SendAsync(client, app.Address, "/whoami", null);
            var reports = await SendAsync(client, app.Address, "/reports", token);
            Console.WriteLine($"aot: native GET /whoami (token) -> {StatusLine(ok)}");
            Console.WriteLine($"aot: native GET /whoami (no token) -> {StatusLine(none)}");
            Console.WriteLine($"aot: native GET /reports (token) -> {StatusLine(reports)}");
            var body = await ok.Content.ReadAsStringAsync();
            Console.WriteLine($"aot: native /whoami body: {body}");
            if (ok.StatusCode != HttpStatusCode.OK || none.StatusCode != HttpStatusCode.Unauthorized || reports.StatusCode != HttpStatusCode.OK
                || !body.Contains("\"serviceAccount\":\"my-service-account\"", StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"aot: the native binary did not answer as the JIT build does; log in {output}");
                return 1;
            }
        }

        if (!await CheckClusterViewAsync(native, issuer, environment, client, output))
        {
            Console.Error.WriteLine($"aot: the native binary's cluster view did not answer as the JIT build's does; log in {output}");
            return 1;
        }

        if (jit is null)
        {
            return 0;
        }

        // Side by side, alternating, so that both see the same machine load.
        var figures = new Dictionary<string, List<(double Seconds, long Rss)>> { ["JIT"] = [], ["Native AOT"] = [] };
        for (var run = 0; run < runs; run++)
        {
            foreach (var (name, path) in new[] { ("JIT", jit), ("Native AOT", native) })
            {
                var clock = Stopwatch.StartNew();
                using var app = await ServerProcess.StartAsync(name, path, [], environment, Path.Combine(output, $"{name.Replace(' ', '-')}-{run}.log"), TimeSpan.FromSeconds(60));
                HttpResponseMessage answer;
                do
                {
                    answer = await SendAsync(client, app.Address, "/whoami", token);
                }
                while (answer.StatusCode != HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(30));

                var seconds = clock.Elapsed.TotalSeconds;
                figures[name].Add((seconds, app.ReadResidentBytes()));
            }
        }

        var sizes = new Dictionary<string, long>
        {
            ["JIT"] = new DirectoryInfo(Path.GetDirectoryName(Path.GetFullPath(jit))!).EnumerateFiles("*", SearchOption.TopDirectoryOnly).Sum(f => f.Length),
            ["Native AOT"] = new FileInfo(native).Length,
        };
        Console.WriteLine($"aot: {runs} alternating runs each (start to first authenticated 200 on /whoami, RSS after it, size on disk)");
        Console.WriteLine("build        start (median, min-max)    RSS (median)   size");
        foreach (var (name, list) in figures)
        {
            var times = list.Select(f => f.Seconds).Order().ToList();
            var rss = list.Select(f => f.Rss).Order().ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-12} {times[times.Count / 2],5:0.000} s ({times[0]:0.000}-{times[^1]:0.000})   {rss[rss.Count / 2] / 1048576.0,6:0.0} MiB     {sizes[name] / 1048576.0:0.0} MiB"));
        }

        Console.WriteLine("(JIT size: the files of the framework-dependent app directory, without the shared runtime it needs; native: the one executable, which needs none)");
        return 0;
    }

    /// <summary>
    /// The cluster view under Native AOT: LIST + WATCH with the source-generated JSON, label selectors, revocation.
    /// Each case prints one line; any unexpected answer fails the check.
    /// </summary>
    private static async Task<bool> CheckClusterViewAsync(string native, KubernetesTestIssuer issuer, Dictionary<string, string> environment, HttpClient client, string output)
    {
        await using var api = await KubernetesTestApiServer.StartAsync();
        api.AddNamespace("my-namespace", new Dictionary<string, string> { ["env"] = "prod" });
        api.AddNamespace("dev", new Dictionary<string, string> { ["env"] = "dev" });
        api.AddServiceAccount("my-namespace", "my-service-account");
        api.AddServiceAccount("dev", "my-service-account");
        api.AddPod("my-namespace", "checkout-1", new Dictionary<string, string> { ["app"] = "checkout" });
        api.AddPod("my-namespace", "payments-canary", new Dictionary<string, string> { ["app"] = "payments", ["tier"] = "canary" });
        api.AddPod("dev", "checkout-1", new Dictionary<string, string> { ["app"] = "checkout" });
        string Token(string ns, string pod) => issuer.CreateToken(ns, "my-service-account")
            .WithServiceAccountUid(api.Get(KubernetesTestResource.ServiceAccounts, ns, "my-service-account")!.Uid)
            .WithPod(pod, api.Get(KubernetesTestResource.Pods, ns, pod)!.Uid)
            .Build();

        var viewEnvironment = new Dictionary<string, string>(environment)
        {
            [Section + "ClusterView__Enabled"] = "true",
            [Section + "ClusterView__ApiServer"] = api.BaseAddress.ToString(),
        };
        using var app = await ServerProcess.StartAsync("native-view", native, [], viewEnvironment, Path.Combine(output, "native-view.log"), TimeSpan.FromSeconds(60));

        // Ready once the keys are in hand and the view is synced (AddKubernetesClusterView in the readiness checks).
        var ready = await EventuallyAsync(client, app.Address, "/healthz/ready", null, r => r.StatusCode == HttpStatusCode.OK);
        Console.WriteLine($"aot: native+view GET /healthz/ready -> {StatusLine(ready)}");
        var passed = ready.StatusCode == HttpStatusCode.OK;
        foreach (var (path, ns, pod, expected) in new[]
        {
            ("/prod", "my-namespace", "checkout-1", HttpStatusCode.OK),
            ("/prod", "dev", "checkout-1", HttpStatusCode.Forbidden),
            ("/checkout", "my-namespace", "checkout-1", HttpStatusCode.OK),
            ("/checkout", "my-namespace", "payments-canary", HttpStatusCode.Forbidden),
        })
        {
            using var response = await SendAsync(client, app.Address, path, Token(ns, pod));
            Console.WriteLine($"aot: native+view GET {path} ({ns}/{pod}) -> {StatusLine(response)} (expected {(int)expected})");
            passed &= response.StatusCode == expected;
        }

        // Revocation at watch speed: the Pod is deleted; its token, admitted (and cached) before, is refused.
        var token = Token("my-namespace", "checkout-1");
        for (var i = 0; i < 2; i++)
        {
            using var before = await SendAsync(client, app.Address, "/whoami", token);
            passed &= before.StatusCode == HttpStatusCode.OK;
        }

        api.Delete(KubernetesTestResource.Pods, "my-namespace", "checkout-1");
        var clock = Stopwatch.StartNew();
        using var after = await EventuallyAsync(client, app.Address, "/whoami", token, r => r.StatusCode == HttpStatusCode.Unauthorized);
        var challenge = after.Headers.WwwAuthenticate.ToString();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"aot: native+view GET /whoami after the Pod was deleted -> {StatusLine(after)} after {clock.Elapsed.TotalMilliseconds:0} ms; {challenge}"));
        passed &= after.StatusCode == HttpStatusCode.Unauthorized && challenge.Contains("pod 'checkout-1' no longer exists", StringComparison.Ordinal);
        return passed;
    }

    /// <summary>Sends the request until <paramref name="done"/> holds or 30 s pass; returns the last answer.</summary>
    private static async Task<HttpResponseMessage> EventuallyAsync(HttpClient client, Uri address, string path, string? token, Func<HttpResponseMessage, bool> done)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var response = await SendAsync(client, address, path, token);
            if (done(response) || clock.Elapsed > TimeSpan.FromSeconds(30))
            {
                return response;
            }

            response.Dispose();
            await Task.Delay(50);
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, Uri address, string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(address, path));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await client.SendAsync(request);
    }

    private static string StatusLine(HttpResponseMessage response) =>
        string.Create(CultureInfo.InvariantCulture, $"HTTP/{response.Version} {(int)response.StatusCode} {response.ReasonPhrase}");
}
