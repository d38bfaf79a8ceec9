// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net.Http.Headers;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using WireMock;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Settings;
using WireMock.Types;
using WireMock.Util;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>How the stand-in API server answers discovery and JWKS requests.</summary>
public enum ApiServerMode
{
    Ok,
    Unavailable,
    Hang,
    Unauthorized,
    InvalidJson,
    NotFound,
}

/// <summary>
/// WireMock.Net playing the API server's service-account issuer endpoints (discovery and JWKS of a
/// <see cref="KubernetesTestIssuer"/>), counting every request it receives. <see cref="ApiServerMode.Hang"/>
/// holds requests until <see cref="ReleaseHanging"/> (or disposal), so tests control exactly when a fetch ends.
/// </summary>
internal sealed class FakeApiServer : IDisposable
{
    private readonly WireMockServer _server;
    private readonly object _gate = new();
    private TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _hangReached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _discoveryRequests;
    private int _jwksRequests;

    public const string DiscoveryPath = "/.well-known/openid-configuration";
    public const string JwksPath = "/openid/v1/jwks";

    /// <summary>A <c>jwks_uri</c> that no test can reach, as real clusters publish a node IP or internal host.</summary>
    public const string UnreachableJwksUri = "https://10.255.255.1:6443/openid/v1/jwks";

    /// <summary>An issuer with the in-cluster issuer name whose discovery names this server's JWKS.</summary>
    public FakeApiServer(TimeProvider timeProvider)
        : this(timeProvider, issuerIsServerUrl: false, publishedJwksUri: null)
    {
    }

    private FakeApiServer(TimeProvider? timeProvider, bool issuerIsServerUrl, string? publishedJwksUri)
    {
        _server = WireMockServer.Start(new WireMockServerSettings { Urls = ["http://127.0.0.1:0"] });
        Issuer = issuerIsServerUrl
            ? new KubernetesTestIssuer(_server.Url!, timeProvider)
            : new KubernetesTestIssuer(timeProvider: timeProvider);
        Issuer.PublishedJwksUri = publishedJwksUri ?? JwksUri;
        _server.Given(Request.Create().WithPath(DiscoveryPath).UsingGet())
            .RespondWith(Response.Create().WithCallback(request => RespondAsync(isJwks: false, request)));
        _server.Given(Request.Create().WithPath(JwksPath).UsingGet())
            .RespondWith(Response.Create().WithCallback(request => RespondAsync(isJwks: true, request)));
    }

    /// <summary>
    /// The cluster the sample API tests talk to: the issuer is this server's URL and discovery's
    /// <c>jwks_uri</c> is <see cref="UnreachableJwksUri"/>, so the JWKS address must come from configuration.
    /// </summary>
    public static FakeApiServer ForSampleApi() => new(timeProvider: null, issuerIsServerUrl: true, UnreachableJwksUri);

    /// <summary>One of several clusters: the issuer is this server's URL (unique per server), discovery names this server's JWKS.</summary>
    public static FakeApiServer ForCluster() => new(timeProvider: null, issuerIsServerUrl: true, publishedJwksUri: null);

    public KubernetesTestIssuer Issuer { get; }

    public ApiServerMode Mode { get; set; }

    public string Url => _server.Url!;

    public string MetadataAddress => Url + DiscoveryPath;

    public string JwksUri => Url + JwksPath;

    /// <summary>Discovery requests received (each fetch attempt starts with one).</summary>
    public int DiscoveryRequests => Volatile.Read(ref _discoveryRequests);

    /// <summary>JWKS requests received.</summary>
    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    /// <summary>Every request the server received.</summary>
    public int TotalRequests => DiscoveryRequests + JwksRequests;

    /// <summary>Requests received for <see cref="DiscoveryPath"/> or <see cref="JwksPath"/>.</summary>
    public int Requests(string path) => path == JwksPath ? JwksRequests : path == DiscoveryPath ? DiscoveryRequests : 0;

    /// <summary>Completes when a request is being held by <see cref="ApiServerMode.Hang"/>.</summary>
    public Task HangReached
    {
        get
        {
            lock (_gate)
            {
                return _hangReached.Task;
            }
        }
    }

    /// <summary>Points the options at this server: discovery, issuer, plain HTTP.</summary>
    public void Configure(KubernetesServiceAccountOptions options)
    {
        options.Issuer = Issuer.Issuer;
        options.MetadataAddress = MetadataAddress;
        options.RequireHttpsMetadata = false;
        if (options.Audiences.Count == 0)
        {
            options.Audiences.Add("my-api");
        }
    }

    /// <summary>Points one cluster of a scheme at this server (plain HTTP allowed).</summary>
    public void Configure(KubernetesClusterOptions cluster)
    {
        cluster.Issuer = Issuer.Issuer;
        cluster.MetadataAddress = MetadataAddress;
        cluster.RequireHttpsMetadata = false;
    }

    /// <summary>Lets every held request go on (answering as <see cref="Mode"/> then says) and re-arms the gate.</summary>
    public void ReleaseHanging()
    {
        TaskCompletionSource release;
        lock (_gate)
        {
            release = _release;
            _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
            _hangReached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        release.TrySetResult();
    }

    /// <summary>Stops listening: every later fetch fails with connection refused.</summary>
    public void Stop() => _server.Stop();

    /// <summary>The sample API configured only through configuration, against this server.</summary>
    public WebApplicationFactory<Program> CreateSampleApi(IDictionary<string, string?>? overrides = null, Action<KubernetesServiceAccountOptions>? postConfigure = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Authentication:Schemes:KubernetesServiceAccount:Issuer"] = Issuer.Issuer,
            ["Authentication:Schemes:KubernetesServiceAccount:MetadataAddress"] = MetadataAddress,
            ["Authentication:Schemes:KubernetesServiceAccount:JwksUri"] = JwksUri,
            ["Authentication:Schemes:KubernetesServiceAccount:Audiences:0"] = "my-api",
            ["Authentication:Schemes:KubernetesServiceAccount:RequireHttpsMetadata"] = "false",

            // A first fetch from this loopback server takes milliseconds, but on a starved CI machine it has taken
            // over the default 3 s, and a first request then got 401 KeysUnavailable. These tests are not about
            // the wait (those that are set it in overrides).
            ["Authentication:Schemes:KubernetesServiceAccount:MaxKeyFetchWait"] = "00:00:30",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings["Authentication:Schemes:KubernetesServiceAccount:" + key] = value;
        }

        return new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.ConfigureAppConfiguration((_, c) => c.AddInMemoryCollection(settings));
            if (postConfigure is not null)
            {
                b.ConfigureServices(s => s.PostConfigure(KubernetesServiceAccountDefaults.AuthenticationScheme, postConfigure));
            }
        });
    }

    public static async Task<HttpResponseMessage> GetAsync(HttpClient client, string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await client.SendAsync(request);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _release.TrySetResult();
        }

        _server.Stop();
        _server.Dispose();
    }

    private async Task<IResponseMessage> RespondAsync(bool isJwks, IRequestMessage request)
    {
        Interlocked.Increment(ref isJwks ? ref _jwksRequests : ref _discoveryRequests);
        if (isJwks && !AcceptsJwkSet(request))
        {
            // The API server's router answers 406 to an Accept that excludes application/jwk-set+json.
            return Message(406, "application/json", "{\"kind\":\"Status\",\"code\":406}");
        }

        if (Mode == ApiServerMode.Hang)
        {
            Task release;
            lock (_gate)
            {
                release = _release.Task;
                _hangReached.TrySetResult();
            }

            await release.ConfigureAwait(false);
        }

        switch (Mode)
        {
            case ApiServerMode.Unauthorized:
                return Message(401, "application/json", "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Unauthorized\",\"code\":401}");
            case ApiServerMode.InvalidJson:
                return Message(200, isJwks ? "application/jwk-set+json" : "application/json", "<html>not json</html>");
            case ApiServerMode.NotFound:
                return Message(404, "text/plain", "404 page not found");
            case ApiServerMode.Unavailable:
            case ApiServerMode.Hang:
                return Message(503, "text/plain", "service unavailable");
        }

        return isJwks
            ? Message(200, "application/jwk-set+json", Issuer.GetJwks())
            : Message(200, "application/json", Issuer.GetDiscoveryDocument());
    }

    private static bool AcceptsJwkSet(IRequestMessage request) =>
        request.Headers is { } headers
        && headers.TryGetValue("Accept", out var accept)
        && accept.Any(value => value.Contains("application/jwk-set+json", StringComparison.OrdinalIgnoreCase));

    private static ResponseMessage Message(int status, string contentType, string body)
    {
        var message = new ResponseMessage
        {
            StatusCode = status,
            BodyData = new BodyData { BodyAsString = body, DetectedBodyType = BodyType.String, Encoding = System.Text.Encoding.UTF8 },
        };
        message.AddHeader("Content-Type", contentType);
        return message;
    }
}
