// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Nodes;
using KubeSaAuth.TokenReview;
using KubeSaAuth.Tokens;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace KubeSaAuth.Tests.TokenReview;

public sealed class TokenReviewerTests : IDisposable
{
    private const string Path = "/apis/authentication.k8s.io/v1/tokenreviews";
    private const string Token = "header.payload.signature";

    private readonly WireMockServer _apiServer = WireMockServer.Start();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly HttpClient _client = new();
    private readonly KubernetesServiceAccountOptions _options = new();

    public TokenReviewerTests()
    {
        _options.Audiences.Add("my-api");
        _options.TokenReview.Enabled = true;
    }

    public void Dispose()
    {
        _apiServer.Stop();
        _apiServer.Dispose();
        _client.Dispose();
    }

    private KubernetesServiceAccount Caller => new()
    {
        Namespace = "my-namespace",
        Name = "caller",
        Issuer = "https://kubernetes.default.svc.cluster.local",
        Cluster = "test",
        ExpiresAt = _time.GetUtcNow().AddHours(1),
    };

    private KubernetesServiceAccount LegacyCaller => Caller with { IsLegacy = true, ExpiresAt = null, Issuer = KubernetesServiceAccountDefaults.LegacyIssuer };

    [Fact]
    public async Task Accepts_a_token_the_api_server_authenticates()
    {
        Answer(Authenticated());
        using var reviewer = CreateReviewer();

        var failure = await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Null(failure);
    }

    [Fact]
    public async Task Refuses_a_token_whose_pod_was_deleted_with_the_api_servers_error()
    {
        Answer(new JsonObject
        {
            ["apiVersion"] = "authentication.k8s.io/v1",
            ["kind"] = "TokenReview",
            ["status"] = new JsonObject
            {
                ["authenticated"] = false,
                ["error"] = "[invalid bearer token, pod \"caller-7d9f\" not found]",
                ["user"] = new JsonObject(),
            },
        });
        using var reviewer = CreateReviewer();

        var failure = await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(KubernetesTokenFailureReason.TokenReviewRejected, failure?.Reason);
        Assert.Contains("pod \"caller-7d9f\" not found", failure!.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bounds_and_cleans_the_api_servers_error_before_reporting_it()
    {
        Answer(new JsonObject
        {
            ["kind"] = "TokenReview",
            ["status"] = new JsonObject { ["authenticated"] = false, ["error"] = "bad\r\nSet-Cookie: x=1\u0000" + new string('e', 10_000) },
        });
        using var reviewer = CreateReviewer();

        var failure = await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(KubernetesTokenFailureReason.TokenReviewRejected, failure?.Reason);
        Assert.DoesNotContain(failure!.Description, char.IsControl);
        Assert.True(failure.Description.Length < 300, $"{failure.Description.Length} characters");
    }

    [Fact]
    public async Task Refuses_when_authenticated_is_absent()
    {
        Answer(new JsonObject { ["kind"] = "TokenReview", ["status"] = new JsonObject { ["user"] = new JsonObject() } });
        using var reviewer = CreateReviewer();

        var failure = await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(KubernetesTokenFailureReason.TokenReviewRejected, failure?.Reason);
    }

    [Theory]
    [InlineData("[\"https://kubernetes.default.svc.cluster.local\"]")]
    [InlineData("[]")]
    [InlineData(null)]
    public async Task Refuses_when_status_audiences_names_none_of_ours(string? audiences)
    {
        var answer = Authenticated();
        var status = answer["status"]!.AsObject();
        status.Remove("audiences");
        if (audiences is not null)
        {
            status["audiences"] = JsonNode.Parse(audiences);
        }

        Answer(answer);
        using var reviewer = CreateReviewer();

        var failure = await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(KubernetesTokenFailureReason.TokenReviewRejected, failure?.Reason);
        Assert.Contains("audiences", failure!.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refuses_when_the_api_server_names_another_user()
    {
        Answer(Authenticated("system:serviceaccount:other:impostor"));
        using var reviewer = CreateReviewer();

        var failure = await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(KubernetesTokenFailureReason.TokenReviewRejected, failure?.Reason);
    }

    [Theory]
    [InlineData("absent")]
    [InlineData("{}")]
    [InlineData("{\"username\":null}")]
    [InlineData("{\"username\":42}")]
    [InlineData("\"system:serviceaccount:my-namespace:caller\"")]
    public async Task Refuses_an_authenticated_answer_that_names_no_user(string user)
    {
        var answer = Authenticated();
        var status = answer["status"]!.AsObject();
        status.Remove("user");
        if (user != "absent")
        {
            status["user"] = JsonNode.Parse(user);
        }

        Answer(answer);
        using var reviewer = CreateReviewer();

        var failure = await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(KubernetesTokenFailureReason.TokenReviewRejected, failure?.Reason);
        Assert.Contains("named no user", failure!.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stops_reading_an_answer_of_unknown_length_at_the_cap()
    {
        // A chunked answer: no Content-Length, 64 MiB of body if read to the end.
        var body = new CountingStream(64 * 1024 * 1024);
        using var client = new HttpClient(new StreamingHandler(body));
        using var reviewer = new TokenReviewer("test", new Uri("https://kubernetes.test"), () => client, _options, _time, NullLogger.Instance, metrics: null);

        var failure = await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(KubernetesTokenFailureReason.TokenReviewUnavailable, failure?.Reason);
        Assert.True(body.BytesRead <= 512 * 1024, $"read {body.BytesRead} bytes of an answer larger than the cap");
    }

    [Fact]
    public async Task Posts_the_token_and_audiences_as_kubernetes_expects()
    {
        Answer(Authenticated());
        _options.Audiences.Add("other-api");
        using var reviewer = CreateReviewer();

        await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        var request = Assert.Single(_apiServer.LogEntries).RequestMessage;
        Assert.Equal("POST", request.Method);
        Assert.Equal(Path, request.Path);
        Assert.StartsWith("application/json", request.Headers!["Content-Type"].Single(), StringComparison.Ordinal);
        Assert.Contains("application/json", request.Headers!["Accept"].Single(), StringComparison.Ordinal);
        using var body = JsonDocument.Parse(request.Body!);
        Assert.Equal("authentication.k8s.io/v1", body.RootElement.GetProperty("apiVersion").GetString());
        Assert.Equal("TokenReview", body.RootElement.GetProperty("kind").GetString());
        Assert.Equal(Token, body.RootElement.GetProperty("spec").GetProperty("token").GetString());
        Assert.Equal(["my-api", "other-api"], body.RootElement.GetProperty("spec").GetProperty("audiences").EnumerateArray().Select(a => a.GetString()!));
    }

    [Fact]
    public async Task Reviews_a_legacy_token_without_spec_audiences()
    {
        Answer(Authenticated());
        using var reviewer = CreateReviewer();

        await reviewer.ReviewAsync(Token, LegacyCaller, forceFresh: false, CancellationToken.None);

        // k8s: a token without 'aud' has the API server's implicit audiences; asked for ours, it is refused.
        var request = Assert.Single(_apiServer.LogEntries).RequestMessage;
        using var body = JsonDocument.Parse(request.Body!);
        var spec = body.RootElement.GetProperty("spec");
        Assert.Equal(Token, spec.GetProperty("token").GetString());
        Assert.False(spec.TryGetProperty("audiences", out _), $"a legacy token's review must not name audiences: {request.Body}");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("[\"https://kubernetes.default.svc.cluster.local\"]")]
    [InlineData("[]")]
    public async Task Accepts_a_legacy_token_the_api_server_authenticates_whatever_its_status_audiences(string? audiences)
    {
        var answer = Authenticated();
        var status = answer["status"]!.AsObject();
        status.Remove("audiences");
        if (audiences is not null)
        {
            status["audiences"] = JsonNode.Parse(audiences);
        }

        Answer(answer);
        using var reviewer = CreateReviewer();

        var failure = await reviewer.ReviewAsync(Token, LegacyCaller, forceFresh: false, CancellationToken.None);

        Assert.Null(failure);
    }

    [Fact]
    public async Task Still_refuses_a_legacy_token_the_api_server_authenticates_as_another_user()
    {
        Answer(Authenticated("system:serviceaccount:kube-system:admin"));
        using var reviewer = CreateReviewer();

        var failure = await reviewer.ReviewAsync(Token, LegacyCaller, forceFresh: false, CancellationToken.None);

        Assert.Equal(KubernetesTokenFailureReason.TokenReviewRejected, failure?.Reason);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    [InlineData(403)]
    [InlineData(401)]
    public async Task Fails_closed_when_the_api_server_errs(int status)
    {
        _apiServer.Given(Request.Create().WithPath(Path).UsingPost()).RespondWith(Response.Create().WithStatusCode(status));
        using var reviewer = CreateReviewer();

        var failure = await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(KubernetesTokenFailureReason.TokenReviewUnavailable, failure?.Reason);
    }

    [Fact]
    public async Task Falls_back_to_local_validation_when_configured_and_the_api_server_errs()
    {
        _apiServer.Given(Request.Create().WithPath(Path).UsingPost()).RespondWith(Response.Create().WithStatusCode(503));
        _options.TokenReview.FallBackToLocalValidation = true;
        using var reviewer = CreateReviewer();

        var failure = await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Null(failure);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Handles_an_unreachable_api_server_in_both_modes(bool fallBack)
    {
        var port = _apiServer.Port;
        _apiServer.Stop();
        _options.TokenReview.FallBackToLocalValidation = fallBack;
        using var reviewer = CreateReviewer($"http://127.0.0.1:{port}");

        var failure = await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(fallBack ? null : KubernetesTokenFailureReason.TokenReviewUnavailable, failure?.Reason);
    }

    [Fact]
    public async Task Fails_closed_when_its_own_token_file_is_missing_and_sends_nothing()
    {
        Answer(Authenticated());
        var source = new KubeSaAuth.Client.ServiceAccountTokenSource(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "kubesa-missing-" + Guid.NewGuid().ToString("N")), _time);
        using var client = new HttpClient(new KubeSaAuth.Client.KubernetesServiceAccountTokenHandler(source) { InnerHandler = new SocketsHttpHandler() });
        using var reviewer = new TokenReviewer("test", new Uri(_apiServer.Url!), () => client, _options, _time, NullLogger.Instance, metrics: null);

        var failure = await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(KubernetesTokenFailureReason.TokenReviewUnavailable, failure?.Reason);
        Assert.Empty(_apiServer.LogEntries);
    }

    [Fact]
    public async Task Fails_closed_when_the_api_server_does_not_answer_in_time()
    {
        _apiServer.Given(Request.Create().WithPath(Path).UsingPost())
            .RespondWith(Response.Create().WithStatusCode(201).WithBody(Authenticated().ToJsonString()).WithDelay(TimeSpan.FromSeconds(2)));
        _options.BackchannelTimeout = TimeSpan.FromMilliseconds(100);
        using var reviewer = CreateReviewer();

        var failure = await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(KubernetesTokenFailureReason.TokenReviewUnavailable, failure?.Reason);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("{\"kind\":\"Status\"}")]
    public async Task Treats_an_answer_that_is_not_a_token_review_as_an_outage(string body)
    {
        _apiServer.Given(Request.Create().WithPath(Path).UsingPost()).RespondWith(Response.Create().WithStatusCode(201).WithBody(body));
        using var reviewer = CreateReviewer();

        var failure = await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(KubernetesTokenFailureReason.TokenReviewUnavailable, failure?.Reason);
    }

    [Fact]
    public async Task Reuses_a_verdict_within_the_cache_duration_and_asks_again_after()
    {
        Answer(Authenticated());
        using var reviewer = CreateReviewer();

        await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(9));
        await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);
        var withinDuration = _apiServer.LogEntries.Count;
        _time.Advance(TimeSpan.FromSeconds(2));
        await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(1, withinDuration);
        Assert.Equal(2, _apiServer.LogEntries.Count);
    }

    [Fact]
    public async Task Never_reuses_a_verdict_beyond_the_tokens_expiry()
    {
        Answer(Authenticated());
        using var reviewer = CreateReviewer();
        var caller = Caller with { ExpiresAt = _time.GetUtcNow().AddSeconds(3) };

        await reviewer.ReviewAsync(Token, caller, forceFresh: false, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(4));
        await reviewer.ReviewAsync(Token, caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(2, _apiServer.LogEntries.Count);
    }

    [Fact]
    public async Task A_fresh_review_bypasses_the_cache()
    {
        Answer(Authenticated());
        using var reviewer = CreateReviewer();

        await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);
        await reviewer.ReviewAsync(Token, Caller, forceFresh: true, CancellationToken.None);

        Assert.Equal(2, _apiServer.LogEntries.Count);
    }

    [Fact]
    public async Task Does_not_cache_an_outage()
    {
        _apiServer.Given(Request.Create().WithPath(Path).UsingPost()).RespondWith(Response.Create().WithStatusCode(503));
        using var reviewer = CreateReviewer();

        await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);
        await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        Assert.Equal(2, _apiServer.LogEntries.Count);
    }

    [Fact]
    public async Task Keeps_at_most_MaxConcurrency_reviews_in_flight()
    {
        _options.TokenReview.MaxConcurrency = 2;
        _options.BackchannelTimeout = TimeSpan.FromMinutes(5);
        var gate = new GatedHandler(Authenticated().ToJsonString());
        using var client = new HttpClient(gate);
        using var reviewer = new TokenReviewer("test", new Uri("https://api.test"), () => client, _options, _time, NullLogger.Instance, metrics: null);

        var reviews = Enumerable.Range(0, 6).Select(i => reviewer.ReviewAsync(Token + i, Caller, forceFresh: false, CancellationToken.None).AsTask()).ToArray();
        await gate.WaitForInFlightAsync(2);
        var inFlightWhileBlocked = gate.InFlight;
        gate.Open();
        var failures = await Task.WhenAll(reviews);

        Assert.Equal(2, inFlightWhileBlocked);
        Assert.Equal(2, gate.MaxInFlight);
        Assert.All(failures, Assert.Null);
    }

    [Fact]
    public async Task Counts_reviews_by_result_and_cache()
    {
        Answer(Authenticated());
        using var meterFactory = new TestMeterFactory();
        var metrics = new TokenReviewMetrics(meterFactory);
        using var collector = new MetricCollector<long>(metrics.Reviews);
        using var reviewer = CreateReviewer(metrics: metrics);

        await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);
        await reviewer.ReviewAsync(Token, Caller, forceFresh: false, CancellationToken.None);

        var measurements = collector.GetMeasurementSnapshot();
        Assert.Equal(["miss", "hit"], measurements.Select(m => (string)m.Tags["cache"]!));
        Assert.All(measurements, m => Assert.Equal("authenticated", m.Tags["result"]));
    }

    private static JsonObject Authenticated(string username = "system:serviceaccount:my-namespace:caller") => new()
    {
        ["apiVersion"] = "authentication.k8s.io/v1",
        ["kind"] = "TokenReview",
        ["status"] = new JsonObject
        {
            ["authenticated"] = true,
            ["user"] = new JsonObject
            {
                ["username"] = username,
                ["uid"] = "0b5c4a8e-0000-4000-8000-000000000001",
                ["groups"] = new JsonArray("system:serviceaccounts", "system:serviceaccounts:my-namespace", "system:authenticated"),
            },
            ["audiences"] = new JsonArray("my-api"),
        },
    };

    private void Answer(JsonObject body) =>
        _apiServer.Given(Request.Create().WithPath(Path).UsingPost())
            .RespondWith(Response.Create().WithStatusCode(201).WithHeader("Content-Type", "application/json").WithBody(body.ToJsonString()));

    private TokenReviewer CreateReviewer(string? address = null, TokenReviewMetrics? metrics = null) =>
        new("test", new Uri(address ?? _apiServer.Url!), () => _client, _options, _time, NullLogger.Instance, metrics);

    /// <summary>Answers 201 with <paramref name="body"/> and no Content-Length, as a chunked answer does.</summary>
    private sealed class StreamingHandler(Stream body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var content = new StreamContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            return Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.Created) { RequestMessage = request, Content = content });
        }
    }

    /// <summary>A non-seekable stream of <paramref name="length"/> spaces that counts what was read.</summary>
    private sealed class CountingStream(long length) : Stream
    {
        public long BytesRead { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - BytesRead);
            buffer.AsSpan(offset, n).Fill((byte)' ');
            BytesRead += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Holds every request until <see cref="Open"/>, counting how many are in flight at once.</summary>
    private sealed class GatedHandler(string body) : HttpMessageHandler
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly object _gate = new();
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _inFlight;

        public int InFlight => Volatile.Read(ref _inFlight);

        public int MaxInFlight { get; private set; }

        public void Open() => _open.TrySetResult();

        public async Task WaitForInFlightAsync(int count)
        {
            while (true)
            {
                Task changed;
                lock (_gate)
                {
                    if (_inFlight >= count)
                    {
                        return;
                    }

                    changed = _changed.Task;
                }

                await changed.WaitAsync(TimeSpan.FromSeconds(30));
            }
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                _inFlight++;
                MaxInFlight = Math.Max(MaxInFlight, _inFlight);
                _changed.TrySetResult();
                _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            await _open.Task.WaitAsync(cancellationToken);
            lock (_gate)
            {
                _inFlight--;
            }

            return new HttpResponseMessage(System.Net.HttpStatusCode.Created) { Content = new StringContent(body) };
        }
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, scope: this);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in _meters)
            {
                meter.Dispose();
            }
        }
    }
}
