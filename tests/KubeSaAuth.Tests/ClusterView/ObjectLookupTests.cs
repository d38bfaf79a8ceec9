// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.Extensions.Time.Testing;

namespace KubeSaAuth.Tests.ClusterView;

/// <summary>
/// The GET of an object the view does not know yet: single flight per object, the answer kept briefly, bounded in
/// rate, and only the API server's 404 (a <c>Status</c>) taken as evidence that the object is gone.
/// </summary>
public sealed class ObjectLookupTests
{
    [Fact]
    public async Task Concurrent_lookups_of_one_object_share_one_get()
    {
        using var api = new StubApiHandler { Answer = _ => StubApiHandler.Object("shop", "checkout-2", "uid-2") };
        var lookup = api.CreateLookup(new FakeTimeProvider());
        api.Hold();

        var pending = Enumerable.Range(0, 10).Select(_ => lookup.LookupAsync("pods", "shop", "checkout-2", CancellationToken.None).AsTask()).ToArray();
        await api.WaitForRequestsAsync(1);
        api.Release();
        var answers = await Task.WhenAll(pending);

        Assert.All(answers, a => Assert.Equal("uid-2", a!.Found!.Uid));
        Assert.Single(api.Requests);
        Assert.Equal(1, lookup.Lookups);
    }

    [Fact]
    public async Task An_answer_is_kept_for_LookupCacheDuration_then_asked_again()
    {
        var time = new FakeTimeProvider();
        using var api = new StubApiHandler { Answer = _ => StubApiHandler.Object("shop", "checkout-2", "uid-2") };
        var lookup = api.CreateLookup(time, o => o.LookupCacheDuration = TimeSpan.FromSeconds(5));

        await lookup.LookupAsync("pods", "shop", "checkout-2", CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(4));
        var keptAfter4s = lookup.TryGetRecent("pods", "shop", "checkout-2", out var kept);
        time.Advance(TimeSpan.FromSeconds(2));
        var keptAfter6s = lookup.TryGetRecent("pods", "shop", "checkout-2", out _);
        await lookup.LookupAsync("pods", "shop", "checkout-2", CancellationToken.None);

        Assert.True(keptAfter4s);
        Assert.Equal("uid-2", kept!.Uid);
        Assert.False(keptAfter6s);
        Assert.Equal(2, api.Requests.Count);
    }

    [Fact]
    public async Task Lookups_are_bounded_by_MaxLookupsPerSecond()
    {
        var time = new FakeTimeProvider();
        using var api = new StubApiHandler { Answer = path => StubApiHandler.Object("shop", path[(path.LastIndexOf('/') + 1)..], Guid.NewGuid().ToString()) };
        var lookup = api.CreateLookup(time, o => o.MaxLookupsPerSecond = 3);

        var answers = new List<object?>();
        for (var i = 0; i < 5; i++)
        {
            answers.Add(await lookup.LookupAsync("pods", "shop", $"p-{i}", CancellationToken.None));
        }

        time.Advance(TimeSpan.FromSeconds(1));
        var afterASecond = await lookup.LookupAsync("pods", "shop", "p-5", CancellationToken.None);

        Assert.Equal(3, answers.Count(a => a is not null));
        Assert.Null(answers[3]);
        Assert.Null(answers[4]);
        Assert.NotNull(afterASecond);
        Assert.Equal(4, api.Requests.Count);
    }

    [Fact]
    public async Task The_api_servers_404_is_an_answer_that_the_object_is_gone()
    {
        using var api = new StubApiHandler { Answer = _ => StubApiHandler.Status(404, "NotFound", "pods \\\"ghost\\\" not found") };
        var lookup = api.CreateLookup(new FakeTimeProvider());

        var answer = await lookup.LookupAsync("pods", "shop", "ghost", CancellationToken.None);

        Assert.NotNull(answer);
        Assert.Null(answer.Found);
    }

    public static TheoryData<int, string> NotEvidence() => new()
    {
        { 404, "<html><body>404 page not found (a proxy)</body></html>" },
        { 403, """{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403}""" },
        { 503, "" },
        { 500, """{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"InternalError","code":500}""" },
    };

    [Theory]
    [MemberData(nameof(NotEvidence))]
    public async Task Any_other_answer_is_no_answer(int code, string body)
    {
        using var api = new StubApiHandler { Answer = _ => StubApiHandler.Json(code, body) };
        var lookup = api.CreateLookup(new FakeTimeProvider());

        var answer = await lookup.LookupAsync("pods", "shop", "checkout-2", CancellationToken.None);

        Assert.Null(answer);
        Assert.False(lookup.TryGetRecent("pods", "shop", "checkout-2", out _));
    }
}
