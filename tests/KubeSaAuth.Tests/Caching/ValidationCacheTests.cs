// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Caching;
using KubeSaAuth.Tokens;
using Microsoft.Extensions.Time.Testing;

namespace KubeSaAuth.Tests.Caching;

public sealed class ValidationCacheTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Holds_at_most_MaxEntries_tokens()
    {
        var cache = CreateCache(o => o.ValidationCache.MaxEntries = 5);

        for (var i = 0; i < 50; i++)
        {
            var token = "token-" + i;
            cache.AddValidated(token, Account(), trustEpoch: 1);
            cache.AddValidated(token, Account(), trustEpoch: 1);
        }

        Assert.InRange(cache.Count, 1, 5);
    }

    [Fact]
    public void Evicts_the_entries_closest_to_expiry_first()
    {
        var cache = CreateCache(o => o.ValidationCache.MaxEntries = 2);
        var now = _time.GetUtcNow();
        Admit(cache, "late", Account(now.AddMinutes(4)));
        Admit(cache, "early", Account(now.AddMinutes(1)));

        Admit(cache, "newest", Account(now.AddMinutes(3)));

        Assert.True(cache.TryGet("late", 1, out _));
        Assert.False(cache.TryGet("early", 1, out _));
    }

    [Fact]
    public void Misses_an_entry_validated_under_an_older_trust_epoch()
    {
        var cache = CreateCache();
        Admit(cache, "token", Account());

        Assert.True(cache.TryGet("token", 1, out _));
        Assert.False(cache.TryGet("token", 2, out _));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void Does_not_hold_tokens_longer_than_8_KiB()
    {
        var cache = CreateCache();
        var token = new string('a', ValidationCache.MaxCachedTokenLength + 1);

        Admit(cache, token, Account());

        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void Expires_an_extended_token_at_warnafter_plus_skew_when_enforced()
    {
        var cache = CreateCache(o => o.ClockSkew = TimeSpan.FromSeconds(30));
        var now = _time.GetUtcNow();
        Admit(cache, "token", Account(now.AddDays(365)) with { WarnAfter = now.AddMinutes(2) });

        _time.Advance(TimeSpan.FromMinutes(2) + TimeSpan.FromSeconds(29));
        Assert.True(cache.TryGet("token", 1, out _));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(cache.TryGet("token", 1, out _));
    }

    [Fact]
    public void Finds_a_token_only_by_its_exact_text()
    {
        var cache = CreateCache();
        Admit(cache, "header.payload.signature", Account());

        Assert.False(cache.TryGet("header.payload.signaturf", 1, out _));
        Assert.False(cache.TryGet("header.payload.signature.", 1, out _));
        Assert.True(cache.TryGet("xheader.payload.signature".AsSpan(1), 1, out _));
    }

    [Fact]
    public void Clear_forgets_first_sightings_too()
    {
        var cache = CreateCache();
        cache.AddValidated("token", Account(), 1);

        cache.Clear();

        Assert.False(cache.AddValidated("token", Account(), 1));
        Assert.Equal(0, cache.Count);
    }

    private static void Admit(ValidationCache cache, string token, KubernetesServiceAccount account)
    {
        cache.AddValidated(token, account, 1);
        cache.AddValidated(token, account, 1);
    }

    private ValidationCache CreateCache(Action<KubernetesServiceAccountOptions>? configure = null)
    {
        var options = new KubernetesServiceAccountOptions();
        configure?.Invoke(options);
        return new ValidationCache(options, _time);
    }

    private KubernetesServiceAccount Account(DateTimeOffset? expiresAt = null) => new()
    {
        Namespace = "my-namespace",
        Name = "my-service-account",
        Issuer = "https://kubernetes.default.svc.cluster.local",
        Cluster = "test",
        ExpiresAt = expiresAt ?? _time.GetUtcNow().AddHours(1),
    };
}
