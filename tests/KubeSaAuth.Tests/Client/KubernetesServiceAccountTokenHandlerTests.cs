// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Client;
using KubeSaAuth.Tests.InCluster;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace KubeSaAuth.Tests.Client;

public sealed class KubernetesServiceAccountTokenHandlerTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly TestServiceAccountDirectory _sa = new("token-1", "unused");
    private readonly RecordingHandler _server = new();

    public void Dispose() => _sa.Dispose();

    [Fact]
    public async Task Sends_the_token_as_a_bearer()
    {
        using var client = CreateClient();

        using var response = await client.GetAsync(new Uri("https://my-api.test/reports"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["Bearer token-1"], _server.Authorizations);
    }

    [Fact]
    public async Task Retries_once_with_the_rotated_token_after_a_401()
    {
        using var client = CreateClient();
        await client.GetAsync(new Uri("https://my-api.test/reports"));
        _sa.Rotate(token: "token-2");
        _server.Accept = token => token == "token-2";

        using var response = await client.GetAsync(new Uri("https://my-api.test/reports"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["Bearer token-1", "Bearer token-1", "Bearer token-2"], _server.Authorizations);
    }

    [Fact]
    public async Task Does_not_retry_when_the_file_still_holds_the_refused_token()
    {
        using var client = CreateClient();
        _server.Accept = _ => false;

        using var response = await client.GetAsync(new Uri("https://my-api.test/reports"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Single(_server.Authorizations);
    }

    [Fact]
    public async Task Retries_at_most_once()
    {
        using var client = CreateClient();
        await client.GetAsync(new Uri("https://my-api.test/reports"));
        _server.Accept = _ => false;
        _sa.Rotate(token: "token-2");

        using var response = await client.GetAsync(new Uri("https://my-api.test/reports"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(["Bearer token-1", "Bearer token-1", "Bearer token-2"], _server.Authorizations);
    }

    [Fact]
    public async Task Does_not_retry_a_post()
    {
        using var client = CreateClient();
        await client.GetAsync(new Uri("https://my-api.test/reports"));
        _sa.Rotate(token: "token-2");
        _server.Accept = token => token == "token-2";

        using var content = new StringContent("{}");
        using var response = await client.PostAsync(new Uri("https://my-api.test/reports"), content);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(2, _server.Authorizations.Count);
    }

    [Fact]
    public async Task Does_not_retry_a_body_that_cannot_be_sent_twice()
    {
        using var client = CreateClient();
        await client.GetAsync(new Uri("https://my-api.test/reports"));
        _sa.Rotate(token: "token-2");
        _server.Accept = token => token == "token-2";

        using var content = new StreamContent(new MemoryStream([1, 2, 3]));
        using var response = await client.PutAsync(new Uri("https://my-api.test/reports/1"), content);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(2, _server.Authorizations.Count);
    }

    [Fact]
    public async Task Concurrent_requests_read_the_file_once()
    {
        var source = new ServiceAccountTokenSource(_sa.TokenPath, _time);
        using var client = new HttpClient(new KubernetesServiceAccountTokenHandler(source) { InnerHandler = _server });

        await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => client.GetAsync(new Uri("https://my-api.test/reports"))));

        Assert.Equal(50, _server.Authorizations.Count);
        Assert.Equal(1, source.Reads);
    }

    [Fact]
    public async Task AddKubernetesServiceAccountToken_adds_the_handler_to_a_named_client()
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_time);
        services.AddHttpClient("my-api")
            .AddKubernetesServiceAccountToken(_sa.TokenPath)
            .ConfigurePrimaryHttpMessageHandler(() => _server);
        using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("my-api");

        using var response = await client.GetAsync(new Uri("https://my-api.test/reports"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["Bearer token-1"], _server.Authorizations);
    }

    private HttpClient CreateClient() =>
        new(new KubernetesServiceAccountTokenHandler(new ServiceAccountTokenSource(_sa.TokenPath, _time)) { InnerHandler = _server });

    /// <summary>A server that answers 200 to accepted tokens and 401 to others, recording each Authorization header.</summary>
    private sealed class RecordingHandler : HttpMessageHandler
    {
        private readonly object _gate = new();
        private readonly List<string> _authorizations = [];

        public Func<string?, bool> Accept { get; set; } = _ => true;

        public List<string> Authorizations
        {
            get
            {
                lock (_gate)
                {
                    return [.. _authorizations];
                }
            }
        }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var header = request.Headers.Authorization;
            lock (_gate)
            {
                _authorizations.Add(header?.ToString() ?? "(none)");
            }

            var accepted = header?.Scheme == "Bearer" && Accept(header.Parameter);
            return Task.FromResult(new HttpResponseMessage(accepted ? HttpStatusCode.OK : HttpStatusCode.Unauthorized));
        }
    }
}
