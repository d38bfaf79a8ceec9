// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using System.Net;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace KubeSaAuth.Tests.EndToEnd;

/// <summary>Events fire in JwtBearer's order and can change the outcome, through the sample API over HTTP.</summary>
public sealed class EventTests : IDisposable
{
    private readonly FakeApiServer _cluster = FakeApiServer.ForSampleApi();
    private readonly ConcurrentQueue<string> _fired = new();

    public void Dispose() => _cluster.Dispose();

    [Fact]
    public async Task Fires_MessageReceived_then_TokenValidated_for_a_good_token()
    {
        await using var api = _cluster.CreateSampleApi(postConfigure: Record);

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/whoami", _cluster.Issuer.CreateToken().Build());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["MessageReceived", "TokenValidated"], _fired);
    }

    [Fact]
    public async Task Fires_MessageReceived_AuthenticationFailed_then_Challenge_for_a_bad_token()
    {
        await using var api = _cluster.CreateSampleApi(postConfigure: Record);

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/whoami", _cluster.Issuer.CreateToken().Expired().Build());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(["MessageReceived", "AuthenticationFailed:Expired", "Challenge"], _fired);
    }

    [Fact]
    public async Task Fires_MessageReceived_then_Challenge_without_a_token()
    {
        await using var api = _cluster.CreateSampleApi(postConfigure: Record);

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/whoami", token: null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(["MessageReceived", "Challenge"], _fired);
    }

    [Fact]
    public async Task Fires_Forbidden_when_the_policy_is_not_met()
    {
        await using var api = _cluster.CreateSampleApi(postConfigure: Record);

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/reports", _cluster.Issuer.CreateToken("other-namespace").Build());

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(["MessageReceived", "TokenValidated", "Forbidden"], _fired);
    }

    [Fact]
    public async Task MessageReceived_can_supply_the_token_from_elsewhere()
    {
        var token = _cluster.Issuer.CreateToken("my-namespace").Build();
        await using var api = _cluster.CreateSampleApi(postConfigure: o => o.Events.OnMessageReceived = c =>
        {
            c.Token = c.Request.Headers["X-Pod-Token"];
            return Task.CompletedTask;
        });
        var client = api.CreateClient();
        client.DefaultRequestHeaders.Add("X-Pod-Token", token);

        using var response = await client.GetAsync(new Uri("/whoami", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    public async Task MessageReceived_leaving_an_empty_token_falls_back_to_the_header(string? eventToken)
    {
        await using var api = _cluster.CreateSampleApi(postConfigure: o => o.Events.OnMessageReceived = c =>
        {
            c.Token = eventToken;
            return Task.CompletedTask;
        });

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/whoami", _cluster.Issuer.CreateToken().Build());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task TokenValidated_can_refuse_the_caller()
    {
        await using var api = _cluster.CreateSampleApi(postConfigure: o => o.Events.OnTokenValidated = c =>
        {
            if (c.ServiceAccount.PodName is null)
            {
                c.Fail("only pod-bound tokens");
            }

            return Task.CompletedTask;
        });
        var client = api.CreateClient();

        using var unbound = await FakeApiServer.GetAsync(client, "/whoami", _cluster.Issuer.CreateToken().Build());
        using var bound = await FakeApiServer.GetAsync(client, "/whoami", _cluster.Issuer.CreateToken().WithPod("p").Build());

        Assert.Equal(HttpStatusCode.Unauthorized, unbound.StatusCode);
        Assert.Contains("only pod-bound tokens", unbound.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, bound.StatusCode);
    }

    [Fact]
    public async Task Challenge_can_take_over_the_response()
    {
        await using var api = _cluster.CreateSampleApi(postConfigure: o => o.Events.OnChallenge = async c =>
        {
            c.HandleResponse();
            c.Response.StatusCode = 401;
            await c.Response.WriteAsync($"custom: {c.ErrorDescription}");
        });

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/whoami", _cluster.Issuer.CreateToken().Expired().Build());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(response.Headers.WwwAuthenticate);
        Assert.StartsWith("custom: the token expired", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private void Record(KubernetesServiceAccountOptions o)
    {
        o.Events.OnMessageReceived = _ => Enqueue("MessageReceived");
        o.Events.OnTokenValidated = _ => Enqueue("TokenValidated");
        o.Events.OnAuthenticationFailed = c => Enqueue("AuthenticationFailed:" + c.Exception.Reason);
        o.Events.OnChallenge = _ => Enqueue("Challenge");
        o.Events.OnForbidden = _ => Enqueue("Forbidden");
    }

    private Task Enqueue(string name)
    {
        _fired.Enqueue(name);
        return Task.CompletedTask;
    }
}
