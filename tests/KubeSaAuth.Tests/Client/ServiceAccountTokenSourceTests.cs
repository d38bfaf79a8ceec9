// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Client;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.InCluster;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace KubeSaAuth.Tests.Client;

public sealed class ServiceAccountTokenSourceTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly TestServiceAccountDirectory _sa;
    private readonly KubernetesTestIssuer _issuer;

    public ServiceAccountTokenSourceTests()
    {
        _issuer = new KubernetesTestIssuer(timeProvider: _time);
        _sa = new TestServiceAccountDirectory("token-1", "unused");
    }

    public void Dispose() => _sa.Dispose();

    [Fact]
    public void Serves_the_token_from_memory_between_reads()
    {
        var source = CreateSource();

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal("token-1", source.GetToken());
        }

        Assert.Equal(1, source.Reads);
    }

    [Fact]
    public void Picks_up_the_rotated_token_after_the_refresh_interval()
    {
        var source = CreateSource();
        Assert.Equal("token-1", source.GetToken());

        _sa.Rotate(token: "token-2");
        var beforeInterval = source.GetToken();
        _time.Advance(TimeSpan.FromSeconds(61));
        var afterInterval = source.GetToken();

        Assert.Equal("token-1", beforeInterval);
        Assert.Equal("token-2", afterInterval);
    }

    [Fact]
    public void Reads_again_before_the_interval_when_the_cached_token_reaches_its_expiry()
    {
        var first = _issuer.CreateToken().WithLifetime(TimeSpan.FromSeconds(30)).Build();
        _sa.Rotate(token: first);
        var source = CreateSource(TimeSpan.FromHours(1));
        Assert.Equal(first, source.GetToken());

        _time.Advance(TimeSpan.FromSeconds(15));
        var second = _issuer.CreateToken().WithLifetime(TimeSpan.FromHours(1)).Build();
        _sa.Rotate(token: second);
        _time.Advance(TimeSpan.FromSeconds(6)); // 21 s: within the 10 s margin of exp

        Assert.Equal(second, source.GetToken());
    }

    [Fact]
    public void Never_returns_a_token_past_its_expiry()
    {
        var token = _issuer.CreateToken().WithLifetime(TimeSpan.FromMinutes(10)).Build();
        _sa.Rotate(token: token);
        var source = CreateSource(TimeSpan.FromHours(1));
        Assert.Equal(token, source.GetToken());

        _time.Advance(TimeSpan.FromMinutes(11));
        var error = Assert.Throws<InvalidOperationException>(source.GetToken);

        Assert.Contains("expired", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(token, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Explains_a_missing_file()
    {
        var source = new ServiceAccountTokenSource(Path.Combine(_sa.Path, "no-such-token"), _time);

        var error = Assert.Throws<InvalidOperationException>(source.GetToken);

        Assert.Contains("not running in a Pod", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Keeps_serving_a_valid_token_when_a_reread_fails()
    {
        var source = CreateSource();
        Assert.Equal("token-1", source.GetToken());

        File.Delete(_sa.TokenPath);
        _time.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal("token-1", source.GetToken());
        Assert.Equal(2, source.Reads);
    }

    [Fact]
    public void Reload_reports_whether_the_token_changed()
    {
        var source = CreateSource();
        source.GetToken();

        var unchanged = source.Reload();
        _sa.Rotate(token: "token-2");
        var changed = source.Reload();

        Assert.False(unchanged);
        Assert.True(changed);
        Assert.Equal("token-2", source.GetToken());
    }

    [Fact]
    public async Task Concurrent_callers_share_one_read_per_rotation()
    {
        var source = CreateSource();
        source.GetToken();
        _sa.Rotate(token: "token-2");
        _time.Advance(TimeSpan.FromMinutes(2));

        using var start = new ManualResetEventSlim();
        var callers = Enumerable.Range(0, 16).Select(_ => Task.Run(() =>
        {
            start.Wait();
            return Enumerable.Range(0, 200).Select(_ => source.GetToken()).ToArray();
        })).ToArray();
        start.Set();
        var results = await Task.WhenAll(callers);

        Assert.All(results.SelectMany(r => r), t => Assert.Equal("token-2", t));
        Assert.Equal(2, source.Reads);
    }

    [Theory]
    [InlineData("not-a-jwt")]
    [InlineData("a.b.c")]
    [InlineData("a.eyJleHAiOiJzb29uIn0.c")]
    public void Treats_a_token_without_a_readable_exp_as_not_expiring(string token)
    {
        Assert.Equal(DateTimeOffset.MaxValue, ServiceAccountTokenSource.ReadExpiration(token));
    }

    private ServiceAccountTokenSource CreateSource(TimeSpan? refreshInterval = null) => new(new ServiceAccountTokenSourceOptions
    {
        Path = _sa.TokenPath,
        RefreshInterval = refreshInterval ?? TimeSpan.FromMinutes(1),
        TimeProvider = _time,
    });
}
