// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Text.RegularExpressions;
using KubeSaAuth.ClusterView;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace KubeSaAuth.Tests.ClusterView;

/// <summary>
/// The list/watch loop against an in-memory API server, on a fake clock whose timers are recorded: what it asks
/// for on the wire, and how long it waits.
/// </summary>
public sealed partial class ReflectorTests
{
    [Fact]
    public async Task Errors_back_off_doubling_with_jitter()
    {
        var time = new RecordingTimeProvider();
        using var api = new StubApiHandler { Answer = _ => StubApiHandler.Status(503, "ServiceUnavailable", "the server is currently unable to handle the request") };
        var reflector = CreateReflector(api, time, new KubernetesClusterViewOptions());
        using var stop = new CancellationTokenSource();
        var running = Task.Run(() => reflector.RunAsync(stop.Token));

        // Each failure waits on one timer; firing it lets the next attempt fail and wait again. (Each attempt, a
        // streaming list, also arms its own deadlines, of a minute and more: those are not back-off.)
        var delays = new List<TimeSpan>();
        List<TimeSpan> Backoffs() => [.. time.Delays.Where(d => d < Reflector.InitialEventsTimeout)];
        for (var attempt = 0; attempt < 8; attempt++)
        {
            await ClusterViewHost.EventuallyAsync(() => Backoffs().Count > attempt, $"the reflector waits after failure {attempt + 1}");
            delays.Add(Backoffs()[attempt]);
            time.Advance(Reflector.MaxBackoff * 2);
        }

        await stop.CancelAsync();
        await running;

        var nominal = Reflector.InitialBackoff;
        var ratios = new List<double>();
        foreach (var delay in delays)
        {
            // Half to one and a half times the nominal backoff, which doubles up to MaxBackoff.
            Assert.InRange(delay, nominal * 0.5, nominal * 1.5);
            ratios.Add(delay / nominal);
            nominal = nominal * 2 < Reflector.MaxBackoff ? nominal * 2 : Reflector.MaxBackoff;
        }

        Assert.True(ratios.Distinct().Count() > 1, $"no jitter: every delay was {ratios[0]:0.###} times the nominal backoff");
        Assert.InRange(api.Requests.Count, 8, 9);
    }

    [Fact]
    public async Task Watches_resume_from_the_last_bookmark_with_a_jittered_timeout_and_a_refused_streaming_list_is_not_asked_again()
    {
        var time = new RecordingTimeProvider();
        var bookmark = 100;
        StubApiHandler? api = null;
        using var stub = api = new StubApiHandler
        {
            Answer = path =>
            {
                if (path.Contains("sendInitialEvents=true", StringComparison.Ordinal))
                {
                    // As Kubernetes 1.33 answers with its WatchList feature gate off (the default).
                    return StubApiHandler.Status(422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled");
                }

                if (!path.Contains("watch=1", StringComparison.Ordinal))
                {
                    return StubApiHandler.Json(200, """{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"50"},"items":[]}""");
                }

                // Each watch sends one bookmark and ends, as a server closing it at timeoutSeconds; after the ninth
                // watch the next one is held open until the test ends.
                var next = Interlocked.Increment(ref bookmark);
                if (next == 109)
                {
                    api!.Hold();
                }

                var version = next.ToString(CultureInfo.InvariantCulture);
                return StubApiHandler.Json(200, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{\"resourceVersion\":\"" + version + "\"}}}\n");
            },
        };
        var options = new KubernetesClusterViewOptions { WatchTimeout = TimeSpan.FromMinutes(5) };
        var reflector = CreateReflector(api, time, options);
        using var stop = new CancellationTokenSource();
        var running = Task.Run(() => reflector.RunAsync(stop.Token));

        await ClusterViewHost.EventuallyAsync(() => api.Requests.Count >= 11, "eleven requests");
        await stop.CancelAsync();
        await running;

        // First a streaming list (refused: 422), then a paged LIST, then watches; never a streaming list again.
        var requests = api.Requests.Take(11).ToList();
        Assert.Matches("watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=", requests[0]);
        Assert.DoesNotContain("resourceVersion=", requests[0], StringComparison.Ordinal);
        requests = [.. requests.Skip(1)];
        var watches = requests.Skip(1).Select(r => WatchQuery().Match(r)).ToList();
        Assert.DoesNotContain("watch=", requests[0], StringComparison.Ordinal);
        Assert.All(watches, w => Assert.True(w.Success, "a watch with resourceVersion, allowWatchBookmarks=true and timeoutSeconds"));
        Assert.All(requests, r => Assert.DoesNotContain("sendInitialEvents", r, StringComparison.Ordinal));

        // The first watch starts at the list's resourceVersion; each next one at the bookmark the previous one sent.
        Assert.Equal(["50", .. Enumerable.Range(101, watches.Count - 1).Select(v => v.ToString(CultureInfo.InvariantCulture))], watches.Select(w => w.Groups["rv"].Value));

        // client-go: between WatchTimeout and twice it, so that replicas do not reconnect in step.
        var timeouts = watches.Select(w => int.Parse(w.Groups["timeout"].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.All(timeouts, t => Assert.InRange(t, 300, 600));
        Assert.True(timeouts.Distinct().Count() > 1, $"no jitter: every watch asked timeoutSeconds={timeouts[0]}");
        Assert.Equal(1, reflector.Lists);
    }

    private static Reflector CreateReflector(StubApiHandler api, TimeProvider time, KubernetesClusterViewOptions options) =>
        new("pods", null, api.CreateClient(), new ObjectStore("pods", time), new StringPool(), options, TimeSpan.FromSeconds(10), time, NullLogger.Instance, "test");

    [GeneratedRegex(@"^/api/v1/pods\?watch=1&resourceVersion=(?<rv>\d+)&allowWatchBookmarks=true&timeoutSeconds=(?<timeout>\d+)$")]
    private static partial Regex WatchQuery();
}
