// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.Tests.Keys;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace KubeSaAuth.Tests.Diagnostics;

/// <summary>
/// Issue 3 §3, §8: the key health check (Healthy, Degraded while serving stale keys, Unhealthy without
/// keys), the <c>KubeSaAuth</c> meter, key-fetch failures logged at Warning with URL and status, and the
/// activity spans around validation and fetch.
/// </summary>
public sealed class KeyDiagnosticsTests
{
    private static readonly KubernetesServiceAccountOptions Defaults = new();

    [Fact]
    public async Task Health_is_Healthy_with_fresh_keys_Degraded_while_serving_stale_keys_and_Healthy_again_after_recovery()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await StartAsync(time, api);
        var health = host.Services.GetRequiredService<HealthCheckService>();

        var fresh = await health.CheckHealthAsync();
        api.Mode = ApiServerMode.Unavailable;
        time.Advance(Defaults.AutomaticRefreshInterval);
        await host.Keys.InflightFetch;
        var stale = await health.CheckHealthAsync();
        api.Mode = ApiServerMode.Ok;
        time.Advance(Defaults.RefreshInterval);
        await host.Keys.InflightFetch;
        var recovered = await health.CheckHealthAsync();

        Assert.Equal(HealthStatus.Healthy, fresh.Status);
        Assert.Equal(HealthStatus.Degraded, stale.Status);
        Assert.Contains("503", stale.Entries.Single().Value.Description, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Healthy, recovered.Status);
    }

    [Fact]
    public async Task Health_is_Unhealthy_without_keys()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time) { Mode = ApiServerMode.Unavailable };
        await using var host = await StartAsync(time, api);

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Equal(0, report.Entries.Single().Value.Data["keys"]);
    }

    [Fact]
    public async Task Validations_are_counted_by_result_and_reason_and_timed()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await StartAsync(time, api);
        var meters = host.Services.GetRequiredService<IMeterFactory>();
        using var validated = new MetricCollector<long>(meters, "KubeSaAuth", "kubesa.tokens.validated");
        using var duration = new MetricCollector<double>(meters, "KubeSaAuth", "kubesa.tokens.validation.duration");
        var token = api.Issuer.CreateToken().Build();

        // The cache admits a token on its second successful validation: the third request is a hit.
        await host.SendAsync(token);
        await host.SendAsync(token);
        await host.SendAsync(token);
        await host.SendAsync(api.Issuer.CreateToken().WithAudience("other").Build());

        var measurements = validated.GetMeasurementSnapshot();
        Assert.Equal(3, measurements.Count(m => Tag(m.Tags, "result") == "success"));
        Assert.Single(measurements, m => Tag(m.Tags, "cache") == "hit");
        var failure = Assert.Single(measurements, m => Tag(m.Tags, "result") == "failure");
        Assert.Equal(nameof(KubernetesTokenFailureReason.InvalidAudience), Tag(failure.Tags, "reason"));
        Assert.Equal("bound", Tag(failure.Tags, "kind"));
        Assert.Equal(4, duration.GetMeasurementSnapshot().Count);
        Assert.All(duration.GetMeasurementSnapshot(), m => Assert.True(m.Value >= 0));
    }

    [Fact]
    public async Task Key_fetches_key_count_and_staleness_are_reported()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        api.Issuer.AddKey(activate: false);
        await using var host = await StartAsync(time, api);
        var meters = host.Services.GetRequiredService<IMeterFactory>();
        using var fetches = new MetricCollector<long>(meters, "KubeSaAuth", "kubesa.keys.fetches");
        using var count = new MetricCollector<int>(meters, "KubeSaAuth", "kubesa.keys.count");
        using var stale = new MetricCollector<int>(meters, "KubeSaAuth", "kubesa.keys.stale");

        await host.SendAsync(api.Issuer.CreateToken().Build());
        count.RecordObservableInstruments();
        stale.RecordObservableInstruments();
        var keysAfterFetch = count.LastMeasurement!.Value;
        var staleAfterFetch = stale.LastMeasurement!.Value;
        api.Mode = ApiServerMode.Unavailable;
        time.Advance(Defaults.AutomaticRefreshInterval);
        await host.Keys.InflightFetch;
        stale.RecordObservableInstruments();

        Assert.Equal(2, keysAfterFetch);
        Assert.Equal(0, staleAfterFetch);
        Assert.Equal(1, stale.LastMeasurement!.Value);
        Assert.Equal(["success", "failure"], fetches.GetMeasurementSnapshot().Select(m => Tag(m.Tags, "result")));
    }

    [Fact]
    public async Task Key_fetch_failure_is_logged_at_Warning_with_the_url_and_status()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time) { Mode = ApiServerMode.Unavailable };
        await using var host = await StartAsync(time, api);

        await host.SendAsync(api.Issuer.CreateToken().Build());

        var record = Assert.Single(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "KeyFetchFailed");
        Assert.Equal(LogLevel.Warning, record.Level);
        Assert.Equal(201, record.Id.Id);
        Assert.Contains(api.MetadataAddress, record.Message, StringComparison.Ordinal);
        Assert.Contains("503", record.Message, StringComparison.Ordinal);
        Assert.Equal("503", record.GetStructuredStateValue("StatusCode"));
    }

    [Fact]
    public async Task Successful_fetch_is_logged_at_Information_with_the_kids()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await StartAsync(time, api);

        await host.SendAsync(api.Issuer.CreateToken().Build());

        var record = Assert.Single(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "KeysFetched");
        Assert.Equal(LogLevel.Information, record.Level);
        Assert.Contains(api.Issuer.ActiveKey.KeyId, record.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, "Fetched 1 signing key for scheme", "(kid: ")]
    [InlineData(2, "Fetched 2 signing keys for scheme", "(kids: ")]
    public async Task Fetch_log_says_key_or_keys_by_the_count(int keys, string start, string kidLabel)
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        for (var i = 1; i < keys; i++)
        {
            api.Issuer.AddKey(activate: false);
        }

        await using var host = await StartAsync(time, api);

        await host.SendAsync(api.Issuer.CreateToken().Build());

        var record = Assert.Single(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "KeysFetched");
        Assert.StartsWith(start, record.Message, StringComparison.Ordinal);
        Assert.Contains(kidLabel, record.Message, StringComparison.Ordinal);
        Assert.Equal(200, record.Id.Id);
        Assert.Equal(keys.ToString(System.Globalization.CultureInfo.InvariantCulture), record.GetStructuredStateValue("Count"));
    }

    [Fact]
    public async Task Removed_key_is_logged_at_Warning()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await StartAsync(time, api);
        await host.SendAsync(api.Issuer.CreateToken().Build());
        var old = api.Issuer.ActiveKey;

        api.Issuer.AddKey();
        api.Issuer.RemoveKey(old);
        time.Advance(Defaults.AutomaticRefreshInterval);
        await host.Keys.InflightFetch;

        var record = Assert.Single(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "KeysRemoved");
        Assert.Equal(LogLevel.Warning, record.Level);
        Assert.Contains(old.KeyId, record.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validation_and_fetch_are_traced_as_activities()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await StartAsync(time, api);
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "KubeSaAuth",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        using var root = new Activity("test-root").Start();

        await host.SendAsync(api.Issuer.CreateToken().Build());
        await host.SendAsync(api.Issuer.CreateToken().WithAudience("other").Build());
        await host.Keys.InflightFetch;
        root.Stop();

        var mine = stopped.Where(a => a.TraceId == root.TraceId).ToList();
        var fetch = Assert.Single(mine, a => a.OperationName == "KubeSaAuth.FetchKeys");
        Assert.Equal(ActivityStatusCode.Ok, fetch.Status);
        Assert.Equal(KubernetesServiceAccountDefaults.AuthenticationScheme, fetch.GetTagItem("kubesa.scheme"));
        var validations = mine.Where(a => a.OperationName == "KubeSaAuth.ValidateToken").ToList();
        Assert.Equal(2, validations.Count);
        Assert.Contains(validations, a => a.Status == ActivityStatusCode.Error && a.StatusDescription == nameof(KubernetesTokenFailureReason.InvalidAudience));
    }

    [Fact]
    public async Task Failed_fetch_activity_has_error_status()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time) { Mode = ApiServerMode.Unavailable };
        await using var host = await StartAsync(time, api);
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "KubeSaAuth",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        using var root = new Activity("test-root").Start();

        await host.SendAsync(api.Issuer.CreateToken().Build());
        await host.Keys.InflightFetch;
        root.Stop();

        var fetch = Assert.Single(stopped, a => a.TraceId == root.TraceId && a.OperationName == "KubeSaAuth.FetchKeys");
        Assert.Equal(ActivityStatusCode.Error, fetch.Status);
        Assert.Contains("503", fetch.StatusDescription, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Discovery_naming_another_issuer_is_logged_and_the_configured_issuer_still_rules()
    {
        const string configured = "https://configured.example";
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            api.Configure(o);
            o.Issuer = configured;
        }, services: s => s.AddLogging(b => b.AddFakeLogging()));

        var discovered = await host.SendAsync(api.Issuer.CreateToken().Build());
        var asConfigured = await host.SendAsync(api.Issuer.CreateToken().WithIssuer(configured).Build());

        Assert.Equal(KubernetesTokenFailureReason.InvalidIssuer, discovered.Reason);
        Assert.Equal(HttpStatusCode.OK, asConfigured.Status);
        var record = Assert.Single(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "IssuerMismatch");
        Assert.Equal(LogLevel.Warning, record.Level);
        Assert.Contains(api.Issuer.Issuer, record.Message, StringComparison.Ordinal);
        Assert.Contains(configured, record.Message, StringComparison.Ordinal);
    }

    private static Task<KeysTestHost> StartAsync(Microsoft.Extensions.Time.Testing.FakeTimeProvider time, FakeApiServer api) =>
        KeysTestHost.StartAsync(time, api.Configure, services: s =>
        {
            s.AddLogging(b => b.AddFakeLogging());
            s.AddHealthChecks().AddKubernetesServiceAccountKeys();
        });

    private static string? Tag(IReadOnlyDictionary<string, object?> tags, string name) => tags.TryGetValue(name, out var value) ? value as string : null;
}
