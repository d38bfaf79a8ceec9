// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using KubeSaAuth.TokenReview;
using KubeSaAuth.Tokens;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace KubeSaAuth.Tests.TokenReview;

/// <summary>The shared verdict cache against HybridCaches that hang, throw, forget, or work (in memory).</summary>
public sealed class TokenReviewSharedCacheTests : IDisposable
{
    private const string Token = "header.payload.signature";

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly KubernetesServiceAccountOptions _options = new();
    private readonly CountingHandler _apiServer = new();
    private readonly HttpClient _client;
    private readonly FakeLogger _logger = new();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly TokenReviewMetrics _metrics;

    public TokenReviewSharedCacheTests()
    {
        _options.Audiences.Add("my-api");
        _options.TokenReview.Enabled = true;
        _options.TokenReview.SharedCache = true;
        _options.TokenReview.SharedCacheTimeout = TimeSpan.FromMilliseconds(200);
        _client = new HttpClient(_apiServer);
        _metrics = new TokenReviewMetrics(_services.GetRequiredService<IMeterFactory>());
    }

    private KubernetesServiceAccount Caller => new()
    {
        Namespace = "my-namespace",
        Name = "caller",
        Issuer = "https://kubernetes.default.svc.cluster.local",
        Cluster = "test",
        ExpiresAt = _time.GetUtcNow().AddHours(1),
    };

    public void Dispose()
    {
        _client.Dispose();
        _services.Dispose();
    }

    [Fact]
    public async Task A_hanging_shared_cache_holds_a_request_no_longer_than_SharedCacheTimeout()
    {
        using var reviewer = CreateReviewer(new HangingHybridCache());
        var clock = Stopwatch.StartNew();

        var failure = await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        // Generous bound: one read (200 ms) and the write skipped; the cache itself never answers.
        Assert.Null(failure);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Equal(1, _apiServer.Requests);
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Id.Name == "TokenReviewSharedCacheUnavailable" && r.Level == LogLevel.Warning && r.Message.Contains("SharedCacheTimeout", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failing_shared_cache_fails_no_review_and_is_left_alone_for_a_while()
    {
        var cache = new ThrowingHybridCache();
        using var collector = new MetricCollector<long>(_metrics.SharedCache);
        using var reviewer = CreateReviewer(cache);

        var first = await reviewer.ReviewAsync(Token + "1", Caller, forceFresh: false, CancellationToken.None);
        var callsAfterFailure = cache.Calls;
        var second = await reviewer.ReviewAsync(Token + "2", Caller, forceFresh: false, CancellationToken.None);
        var callsWhileLeftAlone = cache.Calls;
        _time.Advance(TokenReviewSharedCache.RetryAfter);
        var third = await reviewer.ReviewAsync(Token + "3", Caller, forceFresh: false, CancellationToken.None);

        Assert.Null(first);
        Assert.Null(second);
        Assert.Null(third);
        Assert.Equal(1, callsAfterFailure);
        Assert.Equal(1, callsWhileLeftAlone);
        Assert.Equal(2, cache.Calls);
        Assert.Equal(3, _apiServer.Requests);
        Assert.Contains(collector.GetMeasurementSnapshot(), m => (string)m.Tags["result"]! == "unavailable" && (string)m.Tags["operation"]! == "read");
        Assert.Single(_logger.Collector.GetSnapshot(), r => r.Id.Name == "TokenReviewSharedCacheUnavailable");
    }

    [Fact]
    public async Task A_shared_cache_that_keeps_nothing_is_noticed_and_verdicts_are_kept_CacheDuration_locally()
    {
        using var reviewer = CreateReviewer(new ForgetfulHybridCache());

        await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(5));
        await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(1, _apiServer.Requests);
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Id.Name == "TokenReviewSharedCacheUnavailable" && r.Message.Contains("read back", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_verdict_the_fleet_holds_is_kept_locally_only_SharedCacheLocalDuration()
    {
        var cache = new MemoryHybridCache();
        using var reviewer = CreateReviewer(cache);

        await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);
        var readsBefore = cache.Reads;
        await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);
        var readsWithinLocalDuration = cache.Reads;
        _time.Advance(TimeSpan.FromSeconds(1.5));
        await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(1, _apiServer.Requests);
        Assert.Equal(readsBefore, readsWithinLocalDuration);
        Assert.Equal(readsBefore + 1, cache.Reads);
    }

    [Fact]
    public async Task Recovers_and_says_so_when_the_shared_cache_answers_again()
    {
        var cache = new MemoryHybridCache { Failing = true };
        using var reviewer = CreateReviewer(cache);

        await reviewer.ReviewAsync(Token + "1", Caller, forceFresh: false, CancellationToken.None);
        cache.Failing = false;
        _time.Advance(TokenReviewSharedCache.RetryAfter);
        await reviewer.ReviewAsync(Token + "2", Caller, forceFresh: false, CancellationToken.None);

        Assert.False(reviewer.SharedCache!.IsUnavailable);
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Id.Name == "TokenReviewSharedCacheRecovered");
    }

    [Fact]
    public async Task Concurrent_misses_of_one_token_share_one_review()
    {
        _options.TokenReview.SharedCache = false;
        _apiServer.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var reviewer = CreateReviewer(cache: null);

        var reviews = Enumerable.Range(0, 10).Select(_ => reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None).AsTask()).ToArray();
        await _apiServer.FirstRequest.Task.WaitAsync(TimeSpan.FromSeconds(30));
        _apiServer.Gate.SetResult();
        var failures = await Task.WhenAll(reviews);

        Assert.All(failures, Assert.Null);
        Assert.Equal(1, _apiServer.Requests);
    }

    [Fact]
    public async Task A_live_review_never_joins_one_in_flight()
    {
        _options.TokenReview.SharedCache = false;
        _apiServer.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var reviewer = CreateReviewer(cache: null);

        var cached = reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None).AsTask();
        await _apiServer.FirstRequest.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var live = reviewer.ReviewAsync(Token, Caller, forceFresh: true, CancellationToken.None).AsTask();
        _apiServer.Gate.SetResult();
        await Task.WhenAll(cached, live);

        Assert.Equal(2, _apiServer.Requests);
    }

    [Fact]
    public async Task A_request_aborted_while_it_waits_does_not_abort_the_review_others_wait_for()
    {
        _options.TokenReview.SharedCache = false;
        _apiServer.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var reviewer = CreateReviewer(cache: null);
        using var aborted = new CancellationTokenSource();

        var first = reviewer.ReviewAsync(Token, Caller, forceFresh: false, aborted.Token).AsTask();
        await _apiServer.FirstRequest.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var second = reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None).AsTask();
        await aborted.CancelAsync();
        _apiServer.Gate.SetResult();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        Assert.Null(await second);
        Assert.Equal(1, _apiServer.Requests);
    }

    [Fact]
    public void The_key_is_a_hash_of_the_token_and_the_audiences_never_the_token()
    {
        var shared = new TokenReviewSharedCache(new MemoryHybridCache(), "my-scheme", new Uri("https://kubernetes.default.svc"), TimeSpan.FromSeconds(1), _time, _logger, metrics: null);

        var key = shared.GetKey(Token, ["a", "b"]);

        Assert.Matches("^kubesa:tokenreview:v1:my-scheme:kubernetes.default.svc:[0-9a-f]{64}$", key);
        Assert.DoesNotContain("signature", key, StringComparison.Ordinal);
        Assert.Equal(key, shared.GetKey(Token, ["b", "a"]));
        Assert.NotEqual(key, shared.GetKey(Token, ["a"]));
        Assert.NotEqual(key, shared.GetKey(Token, ["ab"]));
        Assert.NotEqual(key, shared.GetKey(Token + "x", ["a", "b"]));
    }

    [Fact]
    public void A_shared_verdict_never_outlives_the_tokens_exp()
    {
        var caller = Caller with { ExpiresAt = _time.GetUtcNow().AddSeconds(3) };
        var value = TokenReviewSharedCache.Serialize(null, new ReviewedUser(caller.Username, null, [], new Dictionary<string, IReadOnlyList<string>>()), _time.GetUtcNow().AddMinutes(10));

        var verdict = TokenReviewSharedCache.Parse(value, caller, _time.GetUtcNow(), out var ignored);
        var afterExp = TokenReviewSharedCache.Parse(value, caller, _time.GetUtcNow().AddSeconds(4), out var ignoredAfterExp);

        Assert.Null(ignored);
        Assert.Equal(caller.ExpiresAt, verdict!.ExpiresAt);
        Assert.Null(afterExp);
        Assert.Null(ignoredAfterExp);
    }

    [Fact]
    public void A_shared_refusal_keeps_the_api_servers_error_bounded_and_clean()
    {
        var failure = new TokenFailure(KubernetesTokenFailureReason.TokenReviewRejected, "pod not found\r\nSet-Cookie: x" + new string('e', 2_000));
        var value = TokenReviewSharedCache.Serialize(failure, null, _time.GetUtcNow().AddSeconds(10));

        var verdict = TokenReviewSharedCache.Parse(value, Caller, _time.GetUtcNow(), out _);

        Assert.Equal(KubernetesTokenFailureReason.TokenReviewRejected, verdict!.Failure!.Reason);
        Assert.DoesNotContain(verdict.Failure.Description, char.IsControl);
        Assert.True(verdict.Failure.Description.Length <= TokenReviewSharedCache.MaxErrorLength);
    }

    private TokenReviewer CreateReviewer(HybridCache? cache)
    {
        var apiServer = new Uri("https://api.test");
        var shared = cache is null ? null : new TokenReviewSharedCache(cache, "test", apiServer, _options.TokenReview.SharedCacheTimeout, _time, _logger, _metrics);
        return new TokenReviewer("test", apiServer, () => _client, _options, _time, _logger, _metrics, shared);
    }

    /// <summary>The API server: authenticates <c>my-namespace/caller</c>, counts requests, optionally holds them at a gate.</summary>
    private sealed class CountingHandler : HttpMessageHandler
    {
        private int _requests;

        public int Requests => Volatile.Read(ref _requests);

        public TaskCompletionSource? Gate { get; set; }

        public TaskCompletionSource FirstRequest { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _requests);
            FirstRequest.TrySetResult();
            if (Gate is { } gate)
            {
                await gate.Task.WaitAsync(cancellationToken);
            }

            var body = new JsonObject
            {
                ["kind"] = "TokenReview",
                ["status"] = new JsonObject
                {
                    ["authenticated"] = true,
                    ["user"] = new JsonObject { ["username"] = "system:serviceaccount:my-namespace:caller" },
                    ["audiences"] = new JsonArray("my-api"),
                },
            };
            return new HttpResponseMessage(HttpStatusCode.Created) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        }
    }

    /// <summary>Never answers, and ignores cancellation.</summary>
    private sealed class HangingHybridCache : StubHybridCache
    {
        public override ValueTask<T> GetOrCreateAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
            => new(new TaskCompletionSource<T>().Task);

        public override ValueTask SetAsync<T>(string key, T value, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
            => new(new TaskCompletionSource().Task);
    }

    private sealed class ThrowingHybridCache : StubHybridCache
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public override ValueTask<T> GetOrCreateAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            throw new InvalidOperationException("It was not possible to connect to the redis server(s).");
        }

        public override ValueTask SetAsync<T>(string key, T value, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            throw new InvalidOperationException("It was not possible to connect to the redis server(s).");
        }
    }

    /// <summary>What the default HybridCache does with a failing L2: every read a miss, every write swallowed.</summary>
    private sealed class ForgetfulHybridCache : StubHybridCache
    {
        public override ValueTask<T> GetOrCreateAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
            => default;

        public override ValueTask SetAsync<T>(string key, T value, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
            => default;
    }

    /// <summary>A working shared cache in memory (expiry is the reader's business here); can be made to forget.</summary>
    private sealed class MemoryHybridCache : StubHybridCache
    {
        private readonly ConcurrentDictionary<string, object?> _values = new(StringComparer.Ordinal);
        private int _reads;

        public bool Failing { get; set; }

        public int Reads => Volatile.Read(ref _reads);

        public override ValueTask<T> GetOrCreateAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _reads);
            return !Failing && _values.TryGetValue(key, out var value) ? new((T)value!) : default;
        }

        public override ValueTask SetAsync<T>(string key, T value, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
        {
            if (!Failing)
            {
                _values[key] = value;
            }

            return default;
        }
    }

    private abstract class StubHybridCache : HybridCache
    {
        public override ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default) => default;

        public override ValueTask RemoveByTagAsync(string tag, CancellationToken cancellationToken = default) => default;
    }
}
