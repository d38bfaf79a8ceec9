// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using KubeSaAuth.Authorization;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.InCluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>
/// N replica hosts of one API (TestServer each, with their own HybridCache and Redis connection when shared)
/// against one WireMock.Net API server that counts TokenReviews: the fleet of issue 14.
/// </summary>
internal sealed class TokenReviewFleet : IAsyncDisposable
{
    public const string ReviewPath = "/apis/authentication.k8s.io/v1/tokenreviews";

    private readonly TestServiceAccountDirectory _sa = new("replica-pod-token", "unused");
    private readonly List<WebApplication> _apps = [];
    private readonly List<HttpClient> _clients = [];

    private TokenReviewFleet(KubernetesTestIssuer issuer, WireMockServer apiServer, TimeProvider time)
    {
        Issuer = issuer;
        ApiServer = apiServer;
        Time = time;
    }

    public KubernetesTestIssuer Issuer { get; }

    public WireMockServer ApiServer { get; }

    public TimeProvider Time { get; }

    public FakeLogCollector Logs { get; } = new();

    public IReadOnlyList<WebApplication> Replicas => _apps;

    /// <summary>TokenReviews the API server received.</summary>
    public int Reviews => ApiServer.LogEntries.Count(e => e.RequestMessage.Path == ReviewPath);

    /// <summary>Starts <paramref name="replicas"/> hosts; with <paramref name="redis"/>, each shares verdicts through HybridCache over it.</summary>
    public static async Task<TokenReviewFleet> StartAsync(int replicas, string? redis, TimeProvider time, Action<KubernetesServiceAccountOptions>? configure = null)
    {
        var issuer = new KubernetesTestIssuer(timeProvider: time);
        var fleet = new TokenReviewFleet(issuer, WireMockServer.Start(), time);
        fleet.AnswerAuthenticated();
        for (var i = 0; i < replicas; i++)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(new FakeLoggerProvider(fleet.Logs));
            builder.WebHost.UseTestServer();
            if (redis is not null)
            {
                builder.Services.AddStackExchangeRedisCache(o => o.Configuration = redis);
                builder.Services.AddHybridCache();
            }

            builder.Services.AddAuthentication(KubernetesServiceAccountDefaults.AuthenticationScheme).AddKubernetesServiceAccount(o =>
            {
                issuer.Configure(o, inProcess: true);
                o.TimeProvider = time;
                o.ServiceAccountDirectory = fleet._sa.Path;
                o.TokenReview.Enabled = true;
                o.TokenReview.ApiServer = fleet.ApiServer.Url;
                o.TokenReview.SharedCache = redis is not null;

                // A loopback Redis answers in about a millisecond, but a starved CI machine has taken over the default
                // 500 ms, and a replica then reviewed on its own: these tests count reviews, not the timeout.
                o.TokenReview.SharedCacheTimeout = TimeSpan.FromSeconds(10);
                configure?.Invoke(o);
            });
            builder.Services.AddAuthorization();
            var app = builder.Build();
            app.UseAuthentication();
            app.UseAuthorization();
            app.MapGet("/cached", () => "ok").RequireAuthorization();
            app.MapGet("/live", () => "ok").RequireAuthorization(KubernetesLiveTokenReviewAttribute.PolicyName);
            await app.StartAsync();
            fleet._apps.Add(app);
            fleet._clients.Add(app.GetTestClient());
        }

        return fleet;
    }

    /// <summary>A distinct caller: another Pod of <c>my-namespace/caller</c>, so one API-server answer fits all.</summary>
    public string CallerToken(int pod) => Issuer.CreateToken("my-namespace", "caller").WithPod($"caller-{pod}").Build();

    public async Task<HttpStatusCode> GetAsync(int replica, string token, string path = "/cached")
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _clients[replica].SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>Each caller once to every replica in turn, as a round-robin load balancer would send them.</summary>
    public async Task<List<HttpStatusCode>> RoundAsync(IReadOnlyList<string> tokens)
    {
        var statuses = new List<HttpStatusCode>();
        foreach (var token in tokens)
        {
            for (var replica = 0; replica < _apps.Count; replica++)
            {
                statuses.Add(await GetAsync(replica, token));
            }
        }

        return statuses;
    }

    public void AnswerAuthenticated()
    {
        ApiServer.ResetMappings();
        Answer(new JsonObject
        {
            ["authenticated"] = true,
            ["user"] = new JsonObject
            {
                ["username"] = "system:serviceaccount:my-namespace:caller",
                ["uid"] = "5f6c7d2e-0000-4000-8000-000000000001",
                ["groups"] = new JsonArray("system:serviceaccounts", "system:serviceaccounts:my-namespace", "system:authenticated"),
                ["extra"] = new JsonObject { ["authentication.kubernetes.io/pod-name"] = new JsonArray("caller-0") },
            },
            ["audiences"] = new JsonArray("my-api"),
        });
    }

    public void AnswerRefused(string error)
    {
        ApiServer.ResetMappings();
        Answer(new JsonObject { ["authenticated"] = false, ["error"] = error, ["user"] = new JsonObject() });
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        foreach (var app in _apps)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        ApiServer.Stop();
        ApiServer.Dispose();
        await Issuer.DisposeAsync();
        _sa.Dispose();
    }

    private void Answer(JsonObject status) =>
        ApiServer.Given(Request.Create().WithPath(ReviewPath).UsingPost()).RespondWith(Response.Create()
            .WithStatusCode(201)
            .WithHeader("Content-Type", "application/json")
            .WithBody(new JsonObject { ["apiVersion"] = "authentication.k8s.io/v1", ["kind"] = "TokenReview", ["status"] = status }.ToJsonString()));
}
