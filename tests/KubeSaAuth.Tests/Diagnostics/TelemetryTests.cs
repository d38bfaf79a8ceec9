// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using KubeSaAuth.Authorization;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.Tests.Keys;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace KubeSaAuth.Tests.Diagnostics;

/// <summary>
/// Issue 20 §7: the validation span carries scheme, cluster, result, failure reason, cache hit, namespace and
/// service account, on a miss, a cache hit and a malformed token; the duration histogram advises buckets from
/// microseconds to seconds; a 403 is counted by policy kind and logged once, whatever the number of schemes;
/// the sample keeps the backchannel HttpClient's Information lines out of its log.
/// </summary>
public sealed class TelemetryTests
{
    [Fact]
    public async Task The_validation_span_is_tagged_on_a_miss_a_cache_hit_and_a_malformed_token()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            api.Configure(o);
            o.ClusterName = "east";
        });
        var token = api.Issuer.CreateToken("team-a", "worker").Build();
        using var spans = new SpanRecorder();

        // The validation cache admits a token on its second success: the third request is a hit.
        await host.SendAsync(token);
        await host.SendAsync(token);
        await host.SendAsync(token);
        await host.SendAsync("not-a-jwt");
        await host.SendAsync(request => { });

        var mine = spans.Validations();
        Assert.Equal(4, mine.Count);
        var miss = mine[0];
        Assert.Equal(KubernetesServiceAccountDefaults.AuthenticationScheme, miss.GetTagItem("kubesa.scheme"));
        Assert.Equal("east", miss.GetTagItem("kubesa.cluster"));
        Assert.Equal("success", miss.GetTagItem("kubesa.result"));
        Assert.Equal(false, miss.GetTagItem("kubesa.cache.hit"));
        Assert.Equal("team-a", miss.GetTagItem("k8s.namespace.name"));
        Assert.Equal("worker", miss.GetTagItem("kubesa.service_account"));
        Assert.Null(miss.GetTagItem("error.type"));
        var hit = mine[2];
        Assert.Equal(true, hit.GetTagItem("kubesa.cache.hit"));
        Assert.Equal("success", hit.GetTagItem("kubesa.result"));
        Assert.Equal("team-a", hit.GetTagItem("k8s.namespace.name"));
        var malformed = mine[3];
        Assert.Equal("failure", malformed.GetTagItem("kubesa.result"));
        Assert.Equal(nameof(KubernetesTokenFailureReason.Malformed), malformed.GetTagItem("error.type"));
        Assert.Equal(ActivityStatusCode.Error, malformed.Status);
        Assert.Equal("east", malformed.GetTagItem("kubesa.cluster"));
    }

    [Fact]
    public async Task A_token_left_to_another_scheme_makes_no_span_there()
    {
        var clusters = new Dictionary<string, KubernetesTestIssuer>
        {
            ["span-a"] = new("https://span-a.example"),
            ["span-b"] = new("https://span-b.example"),
        };
        await using var host = await ClustersHost.StartAsync([.. clusters.Keys], (name, o) => clusters[name].Configure(o, inProcess: true),
            map: app => ClustersHost.MapGuarded(app, "/p", "namespace:team-a"));
        using var spans = new SpanRecorder();

        using var response = await host.GetAsync("/p", clusters["span-b"].CreateToken("team-a").Build());

        // TestServer here does not carry the test's trace: the spans are told apart by their scheme, unique to this test.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var span = Assert.Single(spans.All(), a => a.GetTagItem("kubesa.scheme") is "span-a" or "span-b" || a.GetTagItem("kubesa.result") is "other-scheme");
        Assert.Equal("span-b", span.GetTagItem("kubesa.scheme"));
    }

    [Fact]
    public void The_duration_histogram_advises_buckets_from_microseconds_to_seconds()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var telemetry = new KubeSaAuth.Diagnostics.KubeSaAuthTelemetry(services.GetRequiredService<IMeterFactory>());
        Histogram<double>? published = null;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == "KubeSaAuth" && instrument.Name == "kubesa.tokens.validation.duration")
                {
                    published = (Histogram<double>)instrument;
                }
            },
        };
        listener.Start();

        var buckets = published?.Advice?.HistogramBucketBoundaries;

        Assert.NotNull(buckets);
        Assert.Equal("s", published!.Unit);
        Assert.True(buckets![0] <= 0.00001, $"first boundary {buckets[0]} s: a cache hit (microseconds) needs its own buckets");
        Assert.True(buckets[^1] >= 5, $"last boundary {buckets[^1]} s: a key fetch can take seconds");
        Assert.True(buckets.Count(b => b < 0.001) >= 5, "at least five buckets under a millisecond");
        Assert.Equal(buckets.Order(), buckets);
    }

    [Theory]
    [InlineData("namespace:team-a", "namespace")]
    [InlineData("serviceaccount:team-a:worker", "serviceaccount")]
    public async Task A_403_is_counted_once_by_policy_kind_and_logged_once_with_two_schemes(string policy, string kind)
    {
        var clusters = new Dictionary<string, KubernetesTestIssuer>
        {
            ["cluster-a"] = new("https://a.example"),
            ["cluster-b"] = new("https://b.example"),
        };
        await using var host = await ClustersHost.StartAsync([.. clusters.Keys], (name, o) => clusters[name].Configure(o, inProcess: true),
            map: app => ClustersHost.MapGuarded(app, "/p", policy));
        using var forbidden = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "KubeSaAuth", "kubesa.authorization.forbidden");

        using var response = await host.GetAsync("/p", clusters["cluster-a"].CreateToken("team-b", "worker").Build());

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var measurement = Assert.Single(forbidden.GetMeasurementSnapshot());
        Assert.Equal(kind, measurement.Tags["kind"]);
        Assert.Single(host.Logs.GetSnapshot(), r => r.Id.Name is "ForbiddenResponse" or "ForbiddenWithoutServiceAccount");
    }

    [Fact]
    public async Task A_403_of_a_roles_policy_is_counted_as_other()
    {
        await using var issuer = new KubernetesTestIssuer();
        await using var host = await ClustersHost.StartAsync(["k8s"], (_, o) => issuer.Configure(o, inProcess: true),
            map: app => app.MapGet("/p", () => "ok").RequireAuthorization(new AuthorizeAttribute { Roles = "admins" }), defaultScheme: "k8s");
        using var forbidden = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "KubeSaAuth", "kubesa.authorization.forbidden");

        using var response = await host.GetAsync("/p", issuer.CreateToken("team-b").Build());

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("other", Assert.Single(forbidden.GetMeasurementSnapshot()).Tags["kind"]);
    }

    [Theory]
    [InlineData("namespace:team-a", "namespace")]
    [InlineData("serviceaccount:team-a:worker", "serviceaccount")]
    [InlineData("namespace-selector:env=prod", "namespace-selector")]
    [InlineData("pod-selector:app in (checkout,payments),tier!=canary", "pod-selector")]
    [InlineData("reports-readers", null)]
    [InlineData(":x", null)]
    public void The_policy_kind_of_a_policy_name(string policy, string? kind) =>
        Assert.Equal(kind, KubernetesPolicyKind.FromPolicyName(policy));

    [Fact]
    public async Task The_sample_keeps_the_backchannel_HttpClient_Information_lines_out_of_its_log()
    {
        using var api = FakeApiServer.ForSampleApi();
        await using var factory = api.CreateSampleApi()
            .WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddFakeLogging()));
        using var client = factory.CreateClient();

        using var response = await FakeApiServer.GetAsync(client, "/whoami", api.Issuer.CreateToken("my-namespace").Build());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var logs = factory.Services.GetFakeLogCollector().GetSnapshot();
        Assert.Contains(logs, r => r.Id.Name == "KeysFetched");
        Assert.DoesNotContain(logs, r => r.Category?.StartsWith("System.Net.Http.HttpClient.KubeSaAuth", StringComparison.Ordinal) == true && r.Level < LogLevel.Warning);
    }

    /// <summary>Records the <c>KubeSaAuth.ValidateToken</c> spans of this test's own trace.</summary>
    private sealed class SpanRecorder : IDisposable
    {
        private readonly ConcurrentQueue<Activity> _stopped = new();
        private readonly ActivityListener _listener;
        private readonly Activity _root;

        public SpanRecorder()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == "KubeSaAuth",
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = _stopped.Enqueue,
            };
            ActivitySource.AddActivityListener(_listener);
            _root = new Activity("test-root").Start();
        }

        public List<Activity> All() => [.. _stopped.Where(a => a.OperationName == "KubeSaAuth.ValidateToken")];

        public List<Activity> Validations() =>
            [.. _stopped.Where(a => a.TraceId == _root.TraceId && a.OperationName == "KubeSaAuth.ValidateToken").OrderBy(a => a.StartTimeUtc)];

        public void Dispose()
        {
            _root.Stop();
            _listener.Dispose();
        }
    }
}
