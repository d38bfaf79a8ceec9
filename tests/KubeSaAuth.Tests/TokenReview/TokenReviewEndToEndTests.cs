// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using KubeSaAuth.Authorization;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.InCluster;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.TokenReview;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace KubeSaAuth.Tests.TokenReview;

public sealed class TokenReviewEndToEndTests : IAsyncLifetime
{
    private const string ReviewPath = "/apis/authentication.k8s.io/v1/tokenreviews";

    private readonly KubernetesTestIssuer _issuer = new();
    private readonly WireMockServer _apiServer = WireMockServer.Start();
    private readonly TestServiceAccountDirectory _sa = new("reviewer-pod-token", "unused");
    private WebApplication _app = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseTestServer();
        builder.Services.AddAuthentication(KubernetesServiceAccountDefaults.AuthenticationScheme).AddKubernetesServiceAccount(o =>
        {
            _issuer.Configure(o, inProcess: true);
            o.ServiceAccountDirectory = _sa.Path;
            o.TokenReview.Enabled = true;
            o.TokenReview.ApiServer = _apiServer.Url;
            o.AcceptLegacyTokens = true;
        });
        builder.Services.AddAuthorization();
        _app = builder.Build();
        _app.UseAuthentication();
        _app.UseAuthorization();
        _app.MapGet("/cached", () => "ok").RequireAuthorization();
        _app.MapGet("/live", () => "ok").RequireAuthorization(KubernetesLiveTokenReviewAttribute.PolicyName);
        _app.MapGet("/live-attribute", [KubernetesLiveTokenReview] () => "ok");
        await _app.StartAsync();
        _client = _app.GetTestClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _apiServer.Stop();
        _apiServer.Dispose();
        _sa.Dispose();
    }

    [Fact]
    public async Task Accepts_a_caller_the_api_server_authenticates_asking_with_the_pods_own_token()
    {
        AnswerAuthenticated();
        var token = CallerToken();

        using var response = await GetAsync("/cached", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var request = Assert.Single(_apiServer.LogEntries).RequestMessage;
        Assert.Equal("Bearer reviewer-pod-token", request.Headers!["Authorization"].Single());
        using var body = JsonDocument.Parse(request.Body!);
        Assert.Equal(token, body.RootElement.GetProperty("spec").GetProperty("token").GetString());
    }

    [Fact]
    public async Task Refuses_with_401_and_the_api_servers_error_when_the_pod_was_deleted()
    {
        AnswerRefused("pod \"caller-7d9f\" not found");

        using var response = await GetAsync("/cached", CallerToken());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.Contains("invalid_token", challenge, StringComparison.Ordinal);
        Assert.Contains("caller-7d9f", challenge, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refuses_with_401_when_the_api_server_is_down()
    {
        _apiServer.Given(Request.Create().WithPath(ReviewPath).UsingPost()).RespondWith(Response.Create().WithStatusCode(503));

        using var response = await GetAsync("/cached", CallerToken());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task The_live_policy_and_attribute_bypass_the_verdict_cache()
    {
        AnswerAuthenticated();
        var token = CallerToken();

        await GetAsync("/cached", token);
        await GetAsync("/cached", token);
        var cachedReviews = _apiServer.LogEntries.Count;
        using var live = await GetAsync("/live", token);
        using var attribute = await GetAsync("/live-attribute", token);

        Assert.Equal(1, cachedReviews);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, attribute.StatusCode);
        Assert.Equal(3, _apiServer.LogEntries.Count);
    }

    [Fact]
    public async Task The_live_policy_refuses_a_deleted_pod_that_the_cache_still_accepts()
    {
        AnswerAuthenticated();
        var token = CallerToken();
        using var first = await GetAsync("/cached", token);

        _apiServer.Reset();
        AnswerRefused("pod \"caller-7d9f\" not found");
        using var cached = await GetAsync("/cached", token);
        using var live = await GetAsync("/live", token);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, cached.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, live.StatusCode);
    }

    [Fact]
    public async Task Accepts_a_legacy_token_the_api_server_authenticates_asking_without_audiences()
    {
        // As the API server answers a review without spec.audiences of a legacy token: its own implicit audience.
        Answer(new JsonObject
        {
            ["authenticated"] = true,
            ["user"] = new JsonObject { ["username"] = "system:serviceaccount:my-namespace:caller" },
            ["audiences"] = new JsonArray("https://kubernetes.default.svc.cluster.local"),
        });
        var token = _issuer.CreateToken("my-namespace", "caller").Legacy().Build();

        using var response = await GetAsync("/cached", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var request = Assert.Single(_apiServer.LogEntries).RequestMessage;
        using var body = JsonDocument.Parse(request.Body!);
        var spec = body.RootElement.GetProperty("spec");
        Assert.Equal(token, spec.GetProperty("token").GetString());
        Assert.False(spec.TryGetProperty("audiences", out _), $"a legacy token's review must not name audiences: {request.Body}");
    }

    [Fact]
    public async Task Still_reviews_a_bound_token_for_our_audiences()
    {
        AnswerAuthenticated();

        using var response = await GetAsync("/cached", CallerToken());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(Assert.Single(_apiServer.LogEntries).RequestMessage.Body!);
        Assert.Equal(["my-api"], body.RootElement.GetProperty("spec").GetProperty("audiences").EnumerateArray().Select(a => a.GetString()!));
    }

    private string CallerToken() => _issuer.CreateToken("my-namespace", "caller").WithPod("caller-7d9f").Build();

    private async Task<HttpResponseMessage> GetAsync(string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await _client.SendAsync(request);
    }

    private void AnswerAuthenticated() => Answer(new JsonObject
    {
        ["authenticated"] = true,
        ["user"] = new JsonObject { ["username"] = "system:serviceaccount:my-namespace:caller" },
        ["audiences"] = new JsonArray("my-api"),
    });

    private void AnswerRefused(string error) => Answer(new JsonObject { ["authenticated"] = false, ["error"] = error, ["user"] = new JsonObject() });

    private void Answer(JsonObject status) =>
        _apiServer.Given(Request.Create().WithPath(ReviewPath).UsingPost()).RespondWith(Response.Create()
            .WithStatusCode(201)
            .WithHeader("Content-Type", "application/json")
            .WithBody(new JsonObject { ["apiVersion"] = "authentication.k8s.io/v1", ["kind"] = "TokenReview", ["status"] = status }.ToJsonString()));
}

public sealed class LiveTokenReviewWithoutTokenReviewTests
{
    [Fact]
    public async Task The_live_policy_denies_access_when_TokenReview_is_off()
    {
        var issuer = new KubernetesTestIssuer();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseTestServer();
        builder.Services.AddAuthentication(KubernetesServiceAccountDefaults.AuthenticationScheme).AddKubernetesServiceAccount(o => issuer.Configure(o, inProcess: true));
        builder.Services.AddAuthorization();
        await using var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/live", () => "ok").RequireAuthorization(KubernetesLiveTokenReviewAttribute.PolicyName);
        app.MapGet("/cached", () => "ok").RequireAuthorization();
        await app.StartAsync();
        using var client = app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", issuer.CreateToken().Build());

        using var cached = await client.GetAsync(new Uri("/cached", UriKind.Relative));
        using var live = await client.GetAsync(new Uri("/live", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, cached.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, live.StatusCode);
        await app.StopAsync();
    }
}
