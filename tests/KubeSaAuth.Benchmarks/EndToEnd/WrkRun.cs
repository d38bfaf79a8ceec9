// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace KubeSaAuth.Benchmarks.EndToEnd;

/// <summary>One <c>wrk</c> run and what its summary says (requests/s, latency percentiles, statuses, socket errors).</summary>
internal sealed partial record WrkRun(long Requests, double RequestsPerSecond, double P50Ms, double P99Ms, long Non2xx, long SocketErrors, string Output)
{
    /// <summary>Runs <c>wrk --latency</c> against <paramref name="url"/> and parses its summary.</summary>
    public static async Task<WrkRun> RunAsync(string url, string script, IReadOnlyList<string> scriptArguments, int threads, int connections, TimeSpan duration)
    {
        var start = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--latency", "-t", threads.ToString(CultureInfo.InvariantCulture), "-c", connections.ToString(CultureInfo.InvariantCulture), "-d", $"{duration.TotalSeconds:0}s", "--timeout", "10s", "-s", script, url })
        {
            start.ArgumentList.Add(a);
        }

        if (scriptArguments.Count > 0)
        {
            start.ArgumentList.Add("--");
            foreach (var a in scriptArguments)
            {
                start.ArgumentList.Add(a);
            }
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(duration + TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"wrk did not finish within {duration.TotalSeconds + 30:0} s.");
        }

        var output = await stdout + await stderr;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"wrk exited with {process.ExitCode}: {output}");
        }

        return Parse(output);
    }

    public static WrkRun Parse(string output)
    {
        var requests = long.Parse(RequestsLine().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var rps = double.Parse(RateLine().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        double Percentile(string p)
        {
            var m = Regex.Match(output, $@"^\s*{p}%\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
            if (!m.Success)
            {
                return double.NaN;
            }

            var value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            return m.Groups[2].Value switch { "us" => value / 1000, "ms" => value, _ => value * 1000 };
        }

        var non2xx = Non2xxLine().Match(output) is { Success: true } n ? long.Parse(n.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var socket = SocketLine().Match(output) is { Success: true } s
            ? s.Groups.Values.Skip(1).Sum(g => long.Parse(g.Value, CultureInfo.InvariantCulture))
            : 0;
        return new WrkRun(requests, rps, Percentile("50"), Percentile("99"), non2xx, socket, output);
    }

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex RequestsLine();

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RateLine();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex Non2xxLine();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketLine();
}
