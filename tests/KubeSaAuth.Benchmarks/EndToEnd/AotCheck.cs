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
/// authenticated request (must be 200) and one without a token (must be 401); prints the status lines. With
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
