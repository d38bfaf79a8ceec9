// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace KubeSaAuth.Tests.TestKit;

/// <summary>Outages and slow answers of the stand-in issuer.</summary>
public sealed class IssuerOutageTests
{
    [Fact]
    public async Task Refuses_with_keys_unavailable_during_an_outage_and_accepts_the_next_request_after_it()
    {
        // The clock never moves: without the kit telling the key source that the outage ended, the next
        // request would fall inside the back-off that followed the failed fetch and be refused too.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = new TestKitHost(new KubernetesTestIssuer(timeProvider: time));
        var token = host.Issuer.CreateToken("team-a", "worker").Build();

        using (host.Issuer.SimulateOutage())
        {
            using var during = await host.GetAsync("/whoami", token);
            Assert.Equal(HttpStatusCode.Unauthorized, during.StatusCode);
        }

        using var after = await host.GetAsync("/whoami", token);

        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal([KubernetesTokenFailureReason.KeysUnavailable], host.Refusals);
    }

    [Fact]
    public async Task Setting_the_fault_back_to_none_lets_the_next_request_through()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = new TestKitHost(new KubernetesTestIssuer(timeProvider: time) { Fault = IssuerFault.Unauthorized });
        var token = host.Issuer.CreateToken("team-a", "worker").Build();
        using var during = await host.GetAsync("/whoami", token);

        host.Issuer.Fault = IssuerFault.None;
        using var after = await host.GetAsync("/whoami", token);

        Assert.Equal(HttpStatusCode.Unauthorized, during.StatusCode);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(2, host.Issuer.DiscoveryRequests);
    }

    [Fact]
    public async Task An_outage_that_ends_while_keys_are_fresh_fetches_nothing_more()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = new TestKitHost(new KubernetesTestIssuer(timeProvider: time));
        var token = host.Issuer.CreateToken("team-a", "worker").Build();
        using var before = await host.GetAsync("/whoami", token);

        using (host.Issuer.SimulateOutage())
        {
            using var during = await host.GetAsync("/whoami", token);
            Assert.Equal(HttpStatusCode.OK, during.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(1, host.Issuer.JwksRequests);
    }

    [Fact]
    public void Ending_an_outage_restores_the_previous_fault()
    {
        var issuer = new KubernetesTestIssuer { Fault = IssuerFault.InvalidJson };

        using (issuer.SimulateOutage(IssuerFault.Unauthorized))
        {
            Assert.Equal(IssuerFault.Unauthorized, issuer.Fault);
        }

        Assert.Equal(IssuerFault.InvalidJson, issuer.Fault);
    }

    [Theory]
    [InlineData(IssuerFault.None, HttpStatusCode.OK)]
    [InlineData(IssuerFault.ServiceUnavailable, HttpStatusCode.ServiceUnavailable)]
    [InlineData(IssuerFault.Unauthorized, HttpStatusCode.Unauthorized)]
    public async Task Serves_the_jwks_or_the_fault(IssuerFault fault, HttpStatusCode expected)
    {
        var issuer = new KubernetesTestIssuer { Fault = fault };
        using var invoker = new HttpMessageInvoker(issuer.CreateHandler());

        using var request = new HttpRequestMessage(HttpMethod.Get, issuer.JwksUri);
        using var response = await invoker.SendAsync(request, CancellationToken.None);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal(1, issuer.JwksRequests);
    }

    [Fact]
    public async Task Holds_answers_back_by_the_response_delay_on_the_issuer_clock()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var issuer = new KubernetesTestIssuer(timeProvider: time) { ResponseDelay = TimeSpan.FromSeconds(5) };
        using var invoker = new HttpMessageInvoker(issuer.CreateHandler());
        using var request = new HttpRequestMessage(HttpMethod.Get, issuer.MetadataAddress);

        var pending = invoker.SendAsync(request, CancellationToken.None);
        Assert.False(pending.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(pending.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        using var response = await pending;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
