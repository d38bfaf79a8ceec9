// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using KubeSaAuth.Keys;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Testing;

/// <summary>
/// A stand-in for a cluster's service-account issuer: real keys, the discovery document and JWKS as the
/// API server serves them (<c>application/jwk-set+json</c>, 406 to an <c>Accept</c> that excludes it),
/// tokens, key rotation and removal, and outages. Serve it on loopback with <see cref="StartAsync"/>, or
/// in-process without a port through <see cref="CreateHandler"/> (for <c>WebApplicationFactory</c>).
/// </summary>
public sealed class KubernetesTestIssuer : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly List<TestSigningKey> _published = [];
    private readonly KeyRetrySignal _retrySignal = new();
    private IssuerFault _fault;
    private WebApplication? _server;
    private int _discoveryRequests;
    private int _jwksRequests;

    /// <summary>Creates an issuer with one RS256 key.</summary>
    /// <param name="issuer">The issuer URL tokens carry; default <c>https://kubernetes.default.svc.cluster.local</c>.</param>
    /// <param name="timeProvider">The clock for token times; default the system clock.</param>
    public KubernetesTestIssuer(string issuer = "https://kubernetes.default.svc.cluster.local", TimeProvider? timeProvider = null)
    {
        Issuer = issuer;
        TimeProvider = timeProvider ?? TimeProvider.System;
        ActiveKey = TestSigningKey.Create();
        _published.Add(ActiveKey);
    }

    /// <summary>The issuer (<c>iss</c>).</summary>
    public string Issuer { get; }

    /// <summary>The clock used for <c>iat</c>, <c>nbf</c>, <c>exp</c>.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>The audiences new tokens carry unless told otherwise; default <c>my-api</c>.</summary>
    public IList<string> DefaultAudiences { get; } = ["my-api"];

    /// <summary>The key new tokens are signed with.</summary>
    public TestSigningKey ActiveKey { get; private set; }

    /// <summary>The keys the JWKS lists.</summary>
    public IReadOnlyList<TestSigningKey> PublishedKeys
    {
        get
        {
            lock (_gate)
            {
                return [.. _published];
            }
        }
    }

    /// <summary>
    /// How the endpoints misbehave; default <see cref="IssuerFault.None"/>. Setting it back to
    /// <see cref="IssuerFault.None"/> (as disposing <see cref="SimulateOutage"/> does) tells the schemes
    /// configured by <see cref="Configure"/> to fetch again at once, so the next request does not wait out
    /// the back-off that followed the failed fetches.
    /// </summary>
    public IssuerFault Fault
    {
        get => _fault;
        set
        {
            var previous = _fault;
            _fault = value;
            if (value == IssuerFault.None && previous != IssuerFault.None)
            {
                _retrySignal.Raise();
            }
        }
    }

    /// <summary>
    /// How long each discovery and JWKS answer is held back, measured on <see cref="TimeProvider"/> (so a
    /// <c>FakeTimeProvider</c> test releases it by advancing the clock); default <see cref="TimeSpan.Zero"/>.
    /// </summary>
    public TimeSpan ResponseDelay { get; set; }

    /// <summary>The base address once <see cref="StartAsync"/> ran (<c>http://127.0.0.1:port</c>); in-process, <c>http://kubernetes.test</c>.</summary>
    public Uri BaseAddress { get; private set; } = new("http://kubernetes.test");

    /// <summary>The discovery document's address.</summary>
    public string MetadataAddress => new Uri(BaseAddress, ".well-known/openid-configuration").ToString();

    /// <summary>The JWKS address.</summary>
    public string JwksUri => new Uri(BaseAddress, "openid/v1/jwks").ToString();

    /// <summary>
    /// The <c>jwks_uri</c> the discovery document names; default <see cref="JwksUri"/>. Set it to an
    /// unreachable address to test the <c>JwksUri</c> override, as real clusters publish one.
    /// </summary>
    public string? PublishedJwksUri { get; set; }

    /// <summary>How many discovery requests were served (including faulted ones).</summary>
    public int DiscoveryRequests => Volatile.Read(ref _discoveryRequests);

    /// <summary>How many JWKS requests were served (including faulted ones).</summary>
    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    /// <summary>Starts serving discovery and JWKS over HTTP on 127.0.0.1 with a free port.</summary>
    /// <param name="issuer">The issuer URL tokens carry; default <c>https://kubernetes.default.svc.cluster.local</c>.</param>
    /// <param name="timeProvider">The clock for token times.</param>
    /// <returns>The running issuer.</returns>
    public static async Task<KubernetesTestIssuer> StartAsync(string issuer = "https://kubernetes.default.svc.cluster.local", TimeProvider? timeProvider = null)
    {
        var testIssuer = new KubernetesTestIssuer(issuer, timeProvider);
        await testIssuer.StartServerAsync().ConfigureAwait(false);
        return testIssuer;
    }

    /// <summary>Starts a bound token for <paramref name="namespace"/>/<paramref name="serviceAccount"/>, signed with <see cref="ActiveKey"/>.</summary>
    /// <param name="namespace">The namespace.</param>
    /// <param name="serviceAccount">The service account name.</param>
    /// <returns>A builder; call <see cref="KubernetesTokenBuilder.Build"/>.</returns>
    public KubernetesTokenBuilder CreateToken(string @namespace = "default", string serviceAccount = "default") => new(this, @namespace, serviceAccount);

    /// <summary>Adds a key to the JWKS (rotation); with <paramref name="activate"/>, new tokens are signed with it.</summary>
    /// <param name="algorithm">The algorithm; default RS256.</param>
    /// <param name="activate">Whether new tokens use it; default <see langword="true"/>.</param>
    /// <returns>The new key.</returns>
    public TestSigningKey AddKey(string algorithm = SecurityAlgorithms.RsaSha256, bool activate = true)
    {
        var key = TestSigningKey.Create(algorithm);
        lock (_gate)
        {
            _published.Add(key);
            if (activate)
            {
                ActiveKey = key;
            }
        }

        return key;
    }

    /// <summary>
    /// Rotates the signing key as an operator does: publishes a new key and signs new tokens with it; the
    /// previous key stays in the JWKS (tokens it signed keep working) unless <paramref name="removePrevious"/>.
    /// </summary>
    /// <param name="removePrevious">Whether to remove the previously active key from the JWKS (revoke it); default <see langword="false"/>.</param>
    /// <param name="algorithm">The new key's algorithm; default RS256.</param>
    /// <returns>The new key.</returns>
    public TestSigningKey RotateKey(bool removePrevious = false, string algorithm = SecurityAlgorithms.RsaSha256)
    {
        var key = TestSigningKey.Create(algorithm);
        lock (_gate)
        {
            var previous = ActiveKey;
            _published.Add(key);
            ActiveKey = key;
            if (removePrevious)
            {
                _published.Remove(previous);
            }
        }

        return key;
    }

    /// <summary>
    /// Makes the endpoints misbehave until the returned handle is disposed, then restores the previous
    /// <see cref="Fault"/>: <c>using (issuer.SimulateOutage()) { ... }</c>. When the outage ends, the schemes
    /// pointed at this issuer fetch keys again at once, so the next request succeeds.
    /// </summary>
    /// <param name="fault">How to misbehave; default <see cref="IssuerFault.ServiceUnavailable"/>.</param>
    /// <returns>A handle that ends the outage when disposed.</returns>
    public IDisposable SimulateOutage(IssuerFault fault = IssuerFault.ServiceUnavailable)
    {
        var previous = Fault;
        Fault = fault;
        return new Outage(this, previous);
    }

    /// <summary>Removes a key from the JWKS: how an operator revokes it.</summary>
    /// <param name="key">The key.</param>
    public void RemoveKey(TestSigningKey key)
    {
        lock (_gate)
        {
            _published.Remove(key);
        }
    }

    /// <summary>The discovery document, as the API server serves it.</summary>
    /// <returns>The JSON.</returns>
    public string GetDiscoveryDocument() => new JsonObject
    {
        ["issuer"] = Issuer,
        ["jwks_uri"] = PublishedJwksUri ?? JwksUri,
        ["response_types_supported"] = new JsonArray("id_token"),
        ["subject_types_supported"] = new JsonArray("public"),
        ["id_token_signing_alg_values_supported"] = new JsonArray([.. PublishedKeys.Select(k => k.Algorithm).Distinct().Select(a => (JsonNode)JsonValue.Create(a))]),
    }.ToJsonString();

    /// <summary>The JWKS, as the API server serves it.</summary>
    /// <returns>The JSON.</returns>
    public string GetJwks() => new JsonObject
    {
        ["keys"] = new JsonArray([.. PublishedKeys.Select(k => (JsonNode)k.PublicJwk.DeepClone())]),
    }.ToJsonString();

    /// <summary>
    /// Points <paramref name="options"/> at this issuer: its <c>Issuer</c> and discovery document (plain HTTP
    /// allowed), no <c>JwksUri</c> override, not in-cluster. Audiences: when the options name none, the
    /// issuer's <see cref="DefaultAudiences"/> are added; when they name some and none of the defaults is
    /// among them, the issuer adopts the application's audiences as its defaults, so that tokens minted from
    /// then on are for the application (mint <see cref="KubernetesTokenBuilder.WithWrongAudience"/> to test a refusal).
    /// </summary>
    /// <param name="options">The handler options.</param>
    /// <param name="inProcess">Whether to serve through <see cref="CreateHandler"/> instead of the network.</param>
    public void Configure(KubernetesServiceAccountOptions options, bool inProcess = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Issuer = Issuer;
        options.MetadataAddress = MetadataAddress;
        options.JwksUri = null;
        options.InCluster = false;
        options.RequireHttpsMetadata = false;
        options.KeyRetrySignal = _retrySignal;
        lock (_gate)
        {
            if (options.Audiences.Count == 0)
            {
                foreach (var audience in DefaultAudiences)
                {
                    options.Audiences.Add(audience);
                }
            }
            else if (!DefaultAudiences.Any(options.Audiences.Contains))
            {
                DefaultAudiences.Clear();
                foreach (var audience in options.Audiences)
                {
                    DefaultAudiences.Add(audience);
                }
            }
        }

        if (inProcess || _server is null)
        {
            options.Backchannel = new HttpClient(CreateHandler()) { Timeout = Timeout.InfiniteTimeSpan };
        }
    }

    /// <summary>
    /// Points one cluster of a scheme (<c>o.Clusters.Add("name", issuer.ConfigureCluster)</c>) at this issuer: its
    /// <c>Issuer</c> and discovery document (plain HTTP allowed), no <c>JwksUri</c> override, not in-cluster. The
    /// audiences are the scheme's: mint tokens for them (<see cref="DefaultAudiences"/>).
    /// </summary>
    /// <param name="cluster">The cluster's options.</param>
    public void ConfigureCluster(KubernetesClusterOptions cluster) => ConfigureCluster(cluster, inProcess: false);

    /// <summary>As <see cref="ConfigureCluster(KubernetesClusterOptions)"/>.</summary>
    /// <param name="cluster">The cluster's options.</param>
    /// <param name="inProcess">Whether to serve through <see cref="CreateHandler"/> instead of the network.</param>
    public void ConfigureCluster(KubernetesClusterOptions cluster, bool inProcess)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        cluster.Issuer = Issuer;
        cluster.MetadataAddress = MetadataAddress;
        cluster.JwksUri = null;
        cluster.InCluster = false;
        cluster.RequireHttpsMetadata = false;
        if (inProcess || _server is null)
        {
            cluster.Backchannel = new HttpClient(CreateHandler()) { Timeout = Timeout.InfiniteTimeSpan };
        }
    }

    /// <summary>An in-process handler answering discovery and JWKS requests without a port.</summary>
    /// <returns>The handler.</returns>
    public HttpMessageHandler CreateHandler() => new InProcessHandler(this);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.StopAsync().ConfigureAwait(false);
            await _server.DisposeAsync().ConfigureAwait(false);
            _server = null;
        }
    }

    private async Task StartServerAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");

        // Not the console lifetime: it would take SIGTERM and SIGINT from the process that hosts this issuer
        // (a test run, a console app), stop only this server and keep the process running.
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        var app = builder.Build();
        app.Run(async context =>
        {
            var (status, contentType, body) = await RespondAsync(context.Request.Path.Value ?? "/", context.Request.Headers.Accept.ToString(), context.RequestAborted).ConfigureAwait(false);
            context.Response.StatusCode = (int)status;
            if (contentType is not null)
            {
                context.Response.ContentType = contentType;
            }

            await context.Response.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        });
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.TrimEnd('/') + "/");
        _server = app;
    }

    private async Task<(HttpStatusCode Status, string? ContentType, string Body)> RespondAsync(string path, string accept, CancellationToken cancellationToken)
    {
        var isDiscovery = path == KubernetesServiceAccountDefaults.DiscoveryPath;
        var isJwks = path == KubernetesServiceAccountDefaults.JwksPath;
        if (isDiscovery)
        {
            Interlocked.Increment(ref _discoveryRequests);
        }
        else if (isJwks)
        {
            Interlocked.Increment(ref _jwksRequests);
        }
        else
        {
            return (HttpStatusCode.NotFound, "text/plain", "404 page not found");
        }

        var delay = ResponseDelay;
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, TimeProvider, cancellationToken).ConfigureAwait(false);
        }

        switch (Fault)
        {
            case IssuerFault.ServiceUnavailable:
                return (HttpStatusCode.ServiceUnavailable, "text/plain", "service unavailable");
            case IssuerFault.Unauthorized:
                return (HttpStatusCode.Unauthorized, "application/json", "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Unauthorized\",\"code\":401}");
            case IssuerFault.InvalidJson:
                return (HttpStatusCode.OK, "application/json", "<html>not json</html>");
            case IssuerFault.Hang:
                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
                break;
        }

        if (isJwks)
        {
            // k8s pkg/routes/openidmetadata.go: the JWKS route produces only application/jwk-set+json.
            if (!string.IsNullOrEmpty(accept) && !accept.Contains("application/jwk-set+json", StringComparison.OrdinalIgnoreCase) && !accept.Contains("*/*", StringComparison.Ordinal))
            {
                return (HttpStatusCode.NotAcceptable, "application/json", "{\"kind\":\"Status\",\"status\":\"Failure\",\"code\":406}");
            }

            return (HttpStatusCode.OK, "application/jwk-set+json", GetJwks());
        }

        return (HttpStatusCode.OK, "application/json", GetDiscoveryDocument());
    }

    /// <summary>A host lifetime that registers no signal handler: the hosting process keeps its own.</summary>
    private sealed class NoSignalLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class Outage(KubernetesTestIssuer issuer, IssuerFault previous) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                issuer.Fault = previous;
            }
        }
    }

    private sealed class InProcessHandler(KubernetesTestIssuer issuer) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var uri = request.RequestUri!;
            if (!string.Equals(uri.GetLeftPart(UriPartial.Authority), issuer.BaseAddress.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase))
            {
                throw new HttpRequestException($"The stand-in issuer at {issuer.BaseAddress} does not serve {uri.GetLeftPart(UriPartial.Authority)} (connection refused).");
            }

            var (status, contentType, body) = await issuer.RespondAsync(uri.AbsolutePath, request.Headers.Accept.ToString(), cancellationToken).ConfigureAwait(false);
            var response = new HttpResponseMessage(status) { RequestMessage = request, Content = new StringContent(body, Encoding.UTF8) };
            if (contentType is not null)
            {
                response.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
            }

            return response;
        }
    }
}
