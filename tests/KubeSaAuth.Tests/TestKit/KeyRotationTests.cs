// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace KubeSaAuth.Tests.TestKit;

/// <summary>Key rotation and revocation through the kit, seen by the real handler.</summary>
public sealed class KeyRotationTests
{
    [Fact]
    public async Task Accepts_tokens_of_the_new_key_and_of_the_previous_one_after_rotation()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = new TestKitHost(new KubernetesTestIssuer(timeProvider: time));
        var before = host.Issuer.CreateToken("team-a", "worker").Build();
        (await host.GetAsync("/whoami", before)).Dispose();

        var newKey = host.Issuer.RotateKey();
        time.Advance(TimeSpan.FromSeconds(11)); // past RefreshInterval: the unknown kid may trigger a fetch
        var after = host.Issuer.CreateToken("team-a", "worker").Build();

        using var newResponse = await host.GetAsync("/whoami", after);
        using var oldResponse = await host.GetAsync("/whoami", before);
        Assert.Equal(HttpStatusCode.OK, newResponse.StatusCode);
        Assert.Equal(HttpStatusCode.OK, oldResponse.StatusCode);
        Assert.Same(newKey, host.Issuer.ActiveKey);
        Assert.Equal(2, host.Issuer.PublishedKeys.Count);
        Assert.Equal(2, host.Issuer.JwksRequests);
    }

    [Fact]
    public async Task Refuses_tokens_of_a_revoked_key_once_the_key_set_is_refreshed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = new TestKitHost(new KubernetesTestIssuer(timeProvider: time));
        var old = host.Issuer.CreateToken("team-a", "worker").Build();
        using (var first = await host.GetAsync("/whoami", old))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        host.Issuer.RotateKey(removePrevious: true);
        time.Advance(TimeSpan.FromSeconds(11));
        using var fresh = await host.GetAsync("/whoami", host.Issuer.CreateToken("team-a", "worker").Build());
        using var revoked = await host.GetAsync("/whoami", old);

        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, revoked.StatusCode);
        Assert.Equal([KubernetesTokenFailureReason.UnknownKey], host.Refusals);
        Assert.Single(host.Issuer.PublishedKeys);
    }
}
