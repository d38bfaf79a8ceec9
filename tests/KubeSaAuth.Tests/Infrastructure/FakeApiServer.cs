// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Testing;
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

    public FakeApiServer(TimeProvider timeProvider)
    {
        _server = WireMockServer.Start(new WireMockServerSettings { Urls = ["http://127.0.0.1:0"] });
        Issuer = new KubernetesTestIssuer(timeProvider: timeProvider);
        Issuer.PublishedJwksUri = JwksUri;
        _server.Given(Request.Create().WithPath("/.well-known/openid-configuration").UsingGet())
            .RespondWith(Response.Create().WithCallback(request => RespondAsync(isJwks: false)));
        _server.Given(Request.Create().WithPath("/openid/v1/jwks").UsingGet())
            .RespondWith(Response.Create().WithCallback(request => RespondAsync(isJwks: true)));
    }

    public KubernetesTestIssuer Issuer { get; }

    public ApiServerMode Mode { get; set; }

    public string Url => _server.Url!;

    public string MetadataAddress => Url + "/.well-known/openid-configuration";

    public string JwksUri => Url + "/openid/v1/jwks";

    /// <summary>Discovery requests received (each fetch attempt starts with one).</summary>
    public int DiscoveryRequests => Volatile.Read(ref _discoveryRequests);

    /// <summary>JWKS requests received.</summary>
    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    /// <summary>Every request the server received.</summary>
    public int TotalRequests => DiscoveryRequests + JwksRequests;

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

    public void Dispose()
    {
        lock (_gate)
        {
            _release.TrySetResult();
        }

        _server.Stop();
        _server.Dispose();
    }

    private async Task<IResponseMessage> RespondAsync(bool isJwks)
    {
        Interlocked.Increment(ref isJwks ? ref _jwksRequests : ref _discoveryRequests);
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
