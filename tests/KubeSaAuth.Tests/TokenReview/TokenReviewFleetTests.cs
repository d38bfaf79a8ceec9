// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Net;
using KubeSaAuth.Schemes;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.TokenReview;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace KubeSaAuth.Tests.TokenReview;

/// <summary>
/// TokenReview at fleet scale (issue 14): N replicas against one API server, with and without
/// <c>TokenReview:SharedCache</c> over a real redis-server. The figures in docs/performance.md come from
/// these tests' output (<c>dotnet test --filter FullyQualifiedName~TokenReviewFleet --logger "console;verbosity=detailed"</c>).
/// </summary>
public sealed class TokenReviewFleetTests(ITestOutputHelper output)
{
    private const int Callers = 20;
    private const int Rounds = 3;

    [RedisTheory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(16)]
    public async Task With_SharedCache_the_api_server_reviews_each_caller_once_whatever_the_number_of_replicas(int replicas)
    {
        await using var redis = await RedisTestServer.StartAsync();
        var reviews = await RunRoundsAsync(replicas, redis.Endpoint);

        Assert.Equal(Callers, reviews);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(16)]
    public async Task Without_SharedCache_every_replica_reviews_every_caller(int replicas)
    {
        var reviews = await RunRoundsAsync(replicas, redis: null);

        Assert.Equal(Callers * replicas, reviews);
    }

    [RedisFact]
    public async Task A_refusal_seen_by_one_replica_holds_on_all_of_them_within_SharedCacheLocalDuration()
    {
        await using var redis = await RedisTestServer.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fleet = await TokenReviewFleet.StartAsync(4, redis.Endpoint, time);
        var token = fleet.CallerToken(0);
        var before = await fleet.RoundAsync([token]);

        // The Pod is deleted; replica 0 learns it through a live review, which writes the refusal to the fleet.
        fleet.AnswerRefused("pod \"caller-0\" not found");
        var live = await fleet.GetAsync(0, token, "/live");
        var othersAtOnce = new[] { await fleet.GetAsync(1, token), await fleet.GetAsync(2, token), await fleet.GetAsync(3, token) };
        time.Advance(TimeSpan.FromSeconds(1.1));
        var othersAfterLocalDuration = new[] { await fleet.GetAsync(1, token), await fleet.GetAsync(2, token), await fleet.GetAsync(3, token) };

        Assert.All(before, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(HttpStatusCode.Unauthorized, live);
        Assert.All(othersAtOnce, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.All(othersAfterLocalDuration, s => Assert.Equal(HttpStatusCode.Unauthorized, s));
        Assert.Equal(2, fleet.Reviews);
    }

    [Fact]
    public async Task Without_SharedCache_a_refusal_seen_by_one_replica_waits_for_each_replicas_own_CacheDuration()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fleet = await TokenReviewFleet.StartAsync(2, redis: null, time);
        var token = fleet.CallerToken(0);
        await fleet.RoundAsync([token]);

        fleet.AnswerRefused("pod \"caller-0\" not found");
        var live = await fleet.GetAsync(0, token, "/live");
        time.Advance(TimeSpan.FromSeconds(1.1));
        var other = await fleet.GetAsync(1, token);

        Assert.Equal(HttpStatusCode.Unauthorized, live);
        Assert.Equal(HttpStatusCode.OK, other);
    }

    [RedisFact]
    public async Task Measures_how_long_a_refusal_takes_to_reach_every_replica()
    {
        // Real time: replica 0 refuses through a live review, the others are polled until they refuse too.
        await using var redis = await RedisTestServer.StartAsync();
        const int replicas = 4;
        await using var fleet = await TokenReviewFleet.StartAsync(replicas, redis.Endpoint, TimeProvider.System);
        var token = fleet.CallerToken(0);
        await fleet.RoundAsync([token]);

        fleet.AnswerRefused("pod \"caller-0\" not found");
        var clock = Stopwatch.StartNew();
        var live = await fleet.GetAsync(0, token, "/live");
        var reached = new TimeSpan[replicas - 1];
        for (var replica = 1; replica < replicas; replica++)
        {
            while (await fleet.GetAsync(replica, token) == HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(10);
            }

            reached[replica - 1] = clock.Elapsed;
        }

        output.WriteLine($"revocation propagation, {replicas} replicas, SharedCacheLocalDuration 1 s: last replica refused after {reached.Max().TotalMilliseconds:0} ms; reviews {fleet.Reviews}");
        Assert.Equal(HttpStatusCode.Unauthorized, live);

        // Generous: the bound is SharedCacheLocalDuration (1 s) after the refusal was written.
        Assert.All(reached, r => Assert.True(r < TimeSpan.FromSeconds(10), $"a replica still accepted the token after {r}"));
        Assert.Equal(2, fleet.Reviews);
    }

    [RedisFact(ownServer: true)]
    public async Task Redis_stopped_mid_run_fails_no_request_and_falls_back_to_per_replica_reviews()
    {
        await using var redis = await RedisTestServer.StartOwnAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        const int replicas = 4;
        // Each replica waits up to SharedCacheTimeout once for the stopped Redis: 2 s, long enough for a starved
        // machine's Redis before the stop, short enough for the round after it.
        await using var fleet = await TokenReviewFleet.StartAsync(replicas, redis.Endpoint, time, o => o.TokenReview.SharedCacheTimeout = TimeSpan.FromSeconds(2));
        var tokens = Enumerable.Range(0, Callers).Select(fleet.CallerToken).ToList();

        var shared = await fleet.RoundAsync(tokens);
        var sharedReviews = fleet.Reviews;
        redis.Stop();
        time.Advance(TimeSpan.FromSeconds(1.1));
        var clock = Stopwatch.StartNew();
        var down = await fleet.RoundAsync(tokens);
        var downTime = clock.Elapsed;
        var downReviews = fleet.Reviews - sharedReviews;
        time.Advance(TimeSpan.FromSeconds(1.1));
        var stillDown = await fleet.RoundAsync(tokens);
        var stillDownReviews = fleet.Reviews - sharedReviews - downReviews;

        output.WriteLine($"Redis stopped mid-run, {replicas} replicas, {Callers} callers: reviews with Redis {sharedReviews}; first round without {downReviews} ({downTime.TotalMilliseconds:0} ms for {down.Count} requests); next round {stillDownReviews}; failed requests {shared.Concat(down).Concat(stillDown).Count(s => s != HttpStatusCode.OK)}");
        Assert.All(shared.Concat(down).Concat(stillDown), s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(Callers, sharedReviews);
        Assert.Equal(Callers * replicas, downReviews);
        Assert.Equal(0, stillDownReviews);
        Assert.Equal(replicas, fleet.Logs.GetSnapshot().Count(r => r.Id.Name == "TokenReviewSharedCacheUnavailable" && r.Level == LogLevel.Warning));
    }

    [RedisFact]
    public async Task A_shared_confirmation_cannot_admit_a_token_local_validation_refused()
    {
        await using var redis = await RedisTestServer.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fleet = await TokenReviewFleet.StartAsync(1, redis.Endpoint, time);
        var expired = fleet.Issuer.CreateToken("my-namespace", "caller").WithPod("caller-0").Expired().Build();
        var (shared, serviceAccount) = SharedCacheOf(fleet);
        await Hybrid(fleet).SetAsync(shared.GetKey(expired, ["my-api"]), TokenReviewSharedCache.Serialize(null, new ReviewedUser(serviceAccount, null, [], new Dictionary<string, IReadOnlyList<string>>()), time.GetUtcNow().AddMinutes(5)));

        var status = await fleet.GetAsync(0, expired);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal(0, fleet.Reviews);
    }

    [RedisFact]
    public async Task A_shared_refusal_refuses_the_token_without_asking_the_api_server()
    {
        await using var redis = await RedisTestServer.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fleet = await TokenReviewFleet.StartAsync(1, redis.Endpoint, time);
        var token = fleet.CallerToken(0);
        var (shared, _) = SharedCacheOf(fleet);
        var refusal = new KubeSaAuth.Tokens.TokenFailure(KubernetesTokenFailureReason.TokenReviewRejected, "the API server did not authenticate the token: pod not found");
        await Hybrid(fleet).SetAsync(shared.GetKey(token, ["my-api"]), TokenReviewSharedCache.Serialize(refusal, null, time.GetUtcNow().AddSeconds(10)));

        var status = await fleet.GetAsync(0, token);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal(0, fleet.Reviews);
    }

    public static TheoryData<string> HostileValues => new()
    {
        "not json",
        "{\"v\":2,\"authenticated\":false,\"expires\":99999999999999,\"error\":\"x\"}",
        "{\"v\":1,\"authenticated\":\"yes\",\"expires\":99999999999999}",
        "{\"v\":1,\"authenticated\":true,\"expires\":99999999999999,\"user\":{\"username\":\"system:serviceaccount:kube-system:admin\"}}",
        "{\"v\":1,\"authenticated\":true,\"expires\":99999999999999}",
        "{\"v\":1,\"authenticated\":false,\"expires\":99999999999999}",
        "{\"v\":1,\"authenticated\":false,\"expires\":99999999999999,\"error\":\"" + new string('x', 20_000) + "\"}",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    };

    [RedisTheory]
    [MemberData(nameof(HostileValues))]
    public async Task A_malformed_or_oversized_shared_value_is_ignored_and_the_api_server_is_asked(string value)
    {
        await using var redis = await RedisTestServer.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fleet = await TokenReviewFleet.StartAsync(1, redis.Endpoint, time);
        var token = fleet.CallerToken(0);
        var (shared, _) = SharedCacheOf(fleet);
        await Hybrid(fleet).SetAsync(shared.GetKey(token, ["my-api"]), System.Text.Encoding.UTF8.GetBytes(value));

        var status = await fleet.GetAsync(0, token);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, fleet.Reviews);
        Assert.Contains(fleet.Logs.GetSnapshot(), r => r.Id.Name == "TokenReviewSharedValueIgnored" && r.Level == LogLevel.Warning);
    }

    [RedisFact]
    public async Task The_shared_cache_holds_a_hash_of_the_token_never_the_token()
    {
        await using var redis = await RedisTestServer.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fleet = await TokenReviewFleet.StartAsync(1, redis.Endpoint, time);
        var token = fleet.CallerToken(0);
        await fleet.GetAsync(0, token);
        var (shared, _) = SharedCacheOf(fleet);
        var key = shared.GetKey(token, ["my-api"]);

        var keys = await RedisKeysAsync(redis.Endpoint, key);
        var value = await Hybrid(fleet).GetOrCreateAsync<byte[]?>(key, _ => default, new HybridCacheEntryOptions { Flags = HybridCacheEntryFlags.DisableLocalCache | HybridCacheEntryFlags.DisableUnderlyingData });

        Assert.Single(keys);
        var apiServer = new Uri(fleet.ApiServer.Url!);
        Assert.Matches($"^kubesa:tokenreview:v1:KubernetesServiceAccount:{apiServer.Host}_{apiServer.Port}:[0-9a-f]{{64}}$", key);
        Assert.DoesNotContain(token.Split('.')[2], key, StringComparison.Ordinal);
        Assert.NotNull(value);
        Assert.DoesNotContain(token.Split('.')[2], System.Text.Encoding.UTF8.GetString(value), StringComparison.Ordinal);
        Assert.Contains("5f6c7d2e-0000-4000-8000-000000000001", System.Text.Encoding.UTF8.GetString(value), StringComparison.Ordinal);
    }

    private async Task<int> RunRoundsAsync(int replicas, string? redis)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // These tests count reviews, not the fallback: the bound on a Redis read is real time (CancelAfter), and
        // on a loaded machine a read past the default 0.5 s marks the shared cache unavailable, so each replica
        // rightly asks the API server itself. The fallback has its own test (Redis stopped mid-run).
        await using var fleet = await TokenReviewFleet.StartAsync(replicas, redis, time, o => o.TokenReview.SharedCacheTimeout = TimeSpan.FromSeconds(30));
        var tokens = Enumerable.Range(0, Callers).Select(fleet.CallerToken).ToList();
        var statuses = new List<HttpStatusCode>();
        for (var round = 0; round < Rounds; round++)
        {
            statuses.AddRange(await fleet.RoundAsync(tokens));

            // Past SharedCacheLocalDuration (1 s), within CacheDuration (10 s): replicas read the shared cache again.
            time.Advance(TimeSpan.FromSeconds(2));
        }

        output.WriteLine($"replicas {replicas}, SharedCache {(redis is null ? "off" : "on")}: {Callers} callers x {Rounds} rounds = {statuses.Count} requests, {fleet.Reviews} TokenReviews at the API server");
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.DoesNotContain(fleet.Logs.GetSnapshot(), r => r.Id.Name == "TokenReviewSharedCacheUnavailable");
        return fleet.Reviews;
    }

    private static HybridCache Hybrid(TokenReviewFleet fleet) => fleet.Replicas[0].Services.GetRequiredService<HybridCache>();

    private static (TokenReviewSharedCache Shared, string Username) SharedCacheOf(TokenReviewFleet fleet)
    {
        var services = fleet.Replicas[0].Services;
        var options = services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(KubernetesServiceAccountDefaults.AuthenticationScheme);
        var runtime = services.GetRequiredService<SchemeRuntimeFactory>().GetOrCreate(KubernetesServiceAccountDefaults.AuthenticationScheme, options);
        return (((TokenReviewer)runtime.Reviewer!).SharedCache!, "system:serviceaccount:my-namespace:caller");
    }

    private static async Task<List<string>> RedisKeysAsync(string endpoint, string key)
    {
        await using var connection = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(endpoint);
        var server = connection.GetServer(connection.GetEndPoints()[0]);
        return [.. server.Keys(pattern: "*" + key[^16..] + "*").Select(k => k.ToString())];
    }
}
