// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Security.Claims;
using KubeSaAuth.Caching;
using KubeSaAuth.Schemes;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.Tokens;

namespace KubeSaAuth.Tests.Caching;

public sealed class ValidationCacheHandlerTests
{
    [Fact]
    public async Task Serves_a_repeated_token_from_the_cache_after_its_second_validation()
    {
        await using var host = await CacheTestHost.StartAsync();
        var token = host.CreateToken();

        var statuses = await host.SendTimesAsync(token, 4);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(2, host.Misses);
        Assert.Equal(2, host.Hits);
    }

    [Fact]
    public async Task Finds_the_cached_token_whatever_the_white_space_around_it()
    {
        await using var host = await CacheTestHost.StartAsync();
        var token = host.CreateToken();
        Assert.Equal(HttpStatusCode.OK, await host.SendRawAsync("Bearer   " + token));
        Assert.Equal(HttpStatusCode.OK, await host.SendRawAsync("bearer " + token));

        Assert.Equal(HttpStatusCode.OK, await host.SendAsync(token));

        Assert.Equal(1, host.Hits);
    }

    [Fact]
    public async Task Does_not_cache_a_token_seen_only_once()
    {
        await using var host = await CacheTestHost.StartAsync();

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await host.SendAsync(host.CreateToken()));
        }

        Assert.Equal(0, host.Cache.Count);
        Assert.Equal(0, host.Hits);
    }

    [Fact]
    public async Task Refuses_a_cached_token_once_its_exp_has_passed()
    {
        await using var host = await CacheTestHost.StartAsync(o =>
        {
            o.ClockSkew = TimeSpan.Zero;
            o.ValidationCache.MaxAge = TimeSpan.FromHours(2);
        });
        var token = host.CreateToken(b => b.WithLifetime(TimeSpan.FromMinutes(10)));
        await host.SendTimesAsync(token, 2);
        Assert.Equal(1, host.Cache.Count);

        host.Time.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));

        Assert.Equal(HttpStatusCode.Unauthorized, await host.SendAsync(token));
        Assert.Equal(0, host.Hits);
    }

    [Fact]
    public async Task Validates_a_cached_token_again_after_MaxAge()
    {
        await using var host = await CacheTestHost.StartAsync(o => o.ValidationCache.MaxAge = TimeSpan.FromMinutes(1));
        var token = host.CreateToken();
        await host.SendTimesAsync(token, 2);

        host.Time.Advance(TimeSpan.FromSeconds(61));

        Assert.Equal(HttpStatusCode.OK, await host.SendAsync(token));
        Assert.Equal(0, host.Hits);
        Assert.Equal(3, host.Misses);
    }

    [Fact]
    public async Task Refuses_a_cached_token_at_once_when_its_signing_key_is_removed()
    {
        await using var host = await CacheTestHost.StartAsync();
        var oldKey = host.Issuer.ActiveKey;
        var token = host.CreateToken();
        await host.SendTimesAsync(token, 3);
        Assert.Equal(1, host.Hits);

        host.Issuer.AddKey();
        host.Issuer.RemoveKey(oldKey);
        await host.Runtime.Keys.FetchNowAsync(CancellationToken.None);

        Assert.Equal(0, host.Cache.Count);
        Assert.Equal(HttpStatusCode.Unauthorized, await host.SendAsync(token));
        Assert.Equal(1, host.Hits);
    }

    [Fact]
    public async Task Never_caches_a_refused_token()
    {
        await using var host = await CacheTestHost.StartAsync();
        var token = host.CreateToken(b => b.Tampered());

        var statuses = await host.SendTimesAsync(token, 3);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Unauthorized, s));
        Assert.Equal(0, host.Cache.Count);
        Assert.Equal(0, host.Hits);
    }

    [Fact]
    public async Task Accepts_a_token_once_valid_even_after_refusing_it_earlier()
    {
        await using var host = await CacheTestHost.StartAsync(o => o.ClockSkew = TimeSpan.Zero);
        var token = host.CreateToken(b => b.IssuedAt(host.Time.GetUtcNow().AddMinutes(5)));
        Assert.Equal(HttpStatusCode.Unauthorized, await host.SendAsync(token));
        Assert.Equal(HttpStatusCode.Unauthorized, await host.SendAsync(token));

        host.Time.Advance(TimeSpan.FromMinutes(5));

        Assert.Equal(HttpStatusCode.OK, await host.SendAsync(token));
    }

    [Fact]
    public async Task Runs_OnTokenValidated_on_every_request_with_a_fresh_principal()
    {
        var principals = new List<ClaimsPrincipal>();
        var claimCounts = new List<int>();
        await using var host = await CacheTestHost.StartAsync(events: e => e.OnTokenValidated = context =>
        {
            var identity = (ClaimsIdentity)context.Principal!.Identity!;
            identity.AddClaim(new Claim("added", "1"));
            principals.Add(context.Principal);
            claimCounts.Add(identity.FindAll("added").Count());
            return Task.CompletedTask;
        });
        var token = host.CreateToken();

        await host.SendTimesAsync(token, 4);

        Assert.Equal(2, host.Hits);
        Assert.Equal(4, principals.Count);
        Assert.Equal(4, principals.Distinct().Count());
        Assert.Equal(4, principals.Select(p => p.Identity).Distinct().Count());
        Assert.All(claimCounts, c => Assert.Equal(1, c));
    }

    [Fact]
    public async Task Drops_a_cached_token_when_TokenReview_refuses_it()
    {
        await using var host = await CacheTestHost.StartAsync();
        var token = host.CreateToken();
        await host.SendTimesAsync(token, 2);
        Assert.Equal(1, host.Cache.Count);
        var reviewer = new RefusingReviewer();
        host.Runtime.Reviewer = reviewer;

        Assert.Equal(HttpStatusCode.Unauthorized, await host.SendAsync(token));

        Assert.Equal(1, reviewer.Calls);
        Assert.Equal(0, host.Cache.Count);
    }

    [Fact]
    public async Task Validates_every_request_in_full_when_the_cache_is_disabled()
    {
        await using var host = await CacheTestHost.StartAsync(o => o.ValidationCache.Enabled = false);
        var token = host.CreateToken();

        var statuses = await host.SendTimesAsync(token, 4);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Null(host.Runtime.Cache);
        Assert.Equal(0, host.Hits);
        Assert.Equal(4, host.Misses);
    }

    [Fact]
    public async Task Does_not_build_claims_a_namespace_policy_never_reads()
    {
        KubernetesClaimsIdentity? identity = null;
        await using var host = await CacheTestHost.StartAsync(events: e => e.OnTokenValidated = context =>
        {
            identity = (KubernetesClaimsIdentity)context.Principal!.Identity!;
            return Task.CompletedTask;
        });

        Assert.Equal(HttpStatusCode.OK, await host.SendAsync(host.CreateToken()));

        Assert.NotNull(identity);
        Assert.False(identity.ClaimsMaterialized);
        Assert.Equal("my-namespace", identity.FindFirst(KubernetesClaimTypes.Namespace)?.Value);
    }

    private sealed class RefusingReviewer : ITokenReviewer
    {
        public int Calls { get; private set; }

        public ValueTask<TokenFailure?> ReviewAsync(string token, KubernetesServiceAccount serviceAccount, bool forceFresh, CancellationToken cancellationToken)
        {
            Calls++;
            return ValueTask.FromResult<TokenFailure?>(new TokenFailure(KubernetesTokenFailureReason.RejectedByEvent, "the API server says the token is not valid"));
        }
    }
}
