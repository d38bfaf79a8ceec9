// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Text.Json;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.EndToEnd;

/// <summary>The sample API contract of shared/DESIGN.md, over HTTP, with WireMock.Net as the API server.</summary>
public sealed class SampleApiContractTests : IDisposable
{
    private readonly FakeApiServer _cluster = FakeApiServer.ForSampleApi();

    public void Dispose() => _cluster.Dispose();

    [Fact]
    public async Task Healthz_answers_200_anonymously_even_while_the_issuer_is_unreachable()
    {
        _cluster.Stop();
        await using var api = _cluster.CreateSampleApi();

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/healthz", token: null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Whoami_reports_the_caller_of_a_bound_token()
    {
        await using var api = _cluster.CreateSampleApi();
        var token = _cluster.Issuer.CreateToken("my-namespace", "my-service-account")
            .WithServiceAccountUid("sa-uid").WithPod("my-pod", "pod-uid").WithNode("node-1", "node-uid").Build();

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/whoami", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        Assert.Equal("my-namespace", root.GetProperty("namespace").GetString());
        Assert.Equal("my-service-account", root.GetProperty("serviceAccount").GetString());
        Assert.Equal("sa-uid", root.GetProperty("serviceAccountUid").GetString());
        Assert.Equal("my-pod", root.GetProperty("podName").GetString());
        Assert.Equal("pod-uid", root.GetProperty("podUid").GetString());
        Assert.Equal("node-1", root.GetProperty("nodeName").GetString());
        Assert.Equal(_cluster.Url, root.GetProperty("issuer").GetString());
        Assert.False(root.GetProperty("legacy").GetBoolean());
        Assert.Equal("system:serviceaccount:my-namespace:my-service-account", root.GetProperty("username").GetString());
    }

    [Fact]
    public async Task Fetches_the_jwks_from_JwksUri_not_from_the_unreachable_jwks_uri_of_discovery()
    {
        await using var api = _cluster.CreateSampleApi();
        var client = api.CreateClient();

        using var first = await FakeApiServer.GetAsync(client, "/whoami", _cluster.Issuer.CreateToken().Build());
        using var second = await FakeApiServer.GetAsync(client, "/whoami", _cluster.Issuer.CreateToken("other").Build());

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(1, _cluster.Requests(FakeApiServer.JwksPath));
        Assert.Equal(1, _cluster.Requests(FakeApiServer.DiscoveryPath));
    }

    [Fact]
    public async Task Uses_the_issuer_of_the_discovery_document_when_Issuer_is_not_set()
    {
        await using var api = _cluster.CreateSampleApi(new Dictionary<string, string?> { ["Issuer"] = null, ["JwksUri"] = null });
        _cluster.Issuer.PublishedJwksUri = _cluster.Url + FakeApiServer.JwksPath;

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/whoami", _cluster.Issuer.CreateToken().Build());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Whoami_without_token_is_401_with_a_bare_bearer_challenge()
    {
        await using var api = _cluster.CreateSampleApi();

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/whoami", token: null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
    }

    [Theory]
    [InlineData("expired", "expired")]
    [InlineData("tampered", "signature does not verify")]
    [InlineData("legacy", "AcceptLegacyTokens")]
    [InlineData("audience", "is not accepted here")]
    [InlineData("stranger", "signature does not verify")]
    public async Task Bad_token_is_401_with_an_rfc6750_invalid_token_challenge_and_a_reason(string kind, string reason)
    {
        await using var api = _cluster.CreateSampleApi();
        var builder = _cluster.Issuer.CreateToken("my-namespace", "my-service-account");
        var token = kind switch
        {
            "expired" => builder.Expired().Build(),
            "tampered" => builder.Tampered().Build(),
            "legacy" => builder.Legacy().Build(),
            "audience" => builder.WithAudience("https://kubernetes.default.svc").Build(),
            _ => builder.SignedWith(Testing.TestSigningKey.Create()).WithKeyId(_cluster.Issuer.ActiveKey.KeyId).Build(),
        };

        var client = api.CreateClient();
        using var warmUp = await FakeApiServer.GetAsync(client, "/whoami", _cluster.Issuer.CreateToken().Build());

        using var response = await FakeApiServer.GetAsync(client, "/whoami", token);

        Assert.Equal(HttpStatusCode.OK, warmUp.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.StartsWith("Bearer error=\"invalid_token\", error_description=\"", challenge, StringComparison.Ordinal);
        Assert.Contains(reason, challenge, StringComparison.Ordinal);
        Assert.DoesNotContain(token.Split('.')[2][..20], challenge, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Leaves_out_the_description_when_IncludeErrorDetails_is_off()
    {
        await using var api = _cluster.CreateSampleApi(new Dictionary<string, string?> { ["IncludeErrorDetails"] = "false" });

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/whoami", _cluster.Issuer.CreateToken().Expired().Build());

        Assert.Equal("Bearer error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task Accepts_a_legacy_token_when_configured_and_reports_it()
    {
        await using var api = _cluster.CreateSampleApi(new Dictionary<string, string?> { ["AcceptLegacyTokens"] = "true" });

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/whoami", _cluster.Issuer.CreateToken("my-namespace").Legacy().Build());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(json.RootElement.GetProperty("legacy").GetBoolean());
        Assert.Equal("kubernetes/serviceaccount", json.RootElement.GetProperty("issuer").GetString());
    }

    [Theory]
    [InlineData("Bearer a b")]
    [InlineData("Bearer")]
    [InlineData("Bearer a,b")]
    public async Task Unusable_authorization_header_is_401_invalid_request(string header)
    {
        await using var api = _cluster.CreateSampleApi();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/whoami");
        request.Headers.TryAddWithoutValidation("Authorization", header);

        using var response = await api.CreateClient().SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith("Bearer error=\"invalid_request\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("x")]
    [InlineData("a.b.c")]
    [InlineData("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")]
    [InlineData("eyJhbGciOiJub25lIn0.e30.")]
    [InlineData("....")]
    [InlineData("ey.ey.ey.ey.ey")]
    public async Task Hostile_token_is_401_never_5xx(string token)
    {
        await using var api = _cluster.CreateSampleApi();

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/whoami", token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith("Bearer error=", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Oversized_token_is_401_with_the_size_reason()
    {
        await using var api = _cluster.CreateSampleApi();

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/whoami", new string('a', 20000));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("MaxTokenSize", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, _cluster.Requests(FakeApiServer.JwksPath));
    }

    [Theory]
    [InlineData("my-namespace", "anyone", HttpStatusCode.OK)]
    [InlineData("other-namespace", "anyone", HttpStatusCode.Forbidden)]
    public async Task Reports_admits_namespace_my_namespace_only(string ns, string serviceAccount, HttpStatusCode expected)
    {
        await using var api = _cluster.CreateSampleApi();

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/reports", _cluster.Issuer.CreateToken(ns, serviceAccount).Build());

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.OK)
        {
            Assert.Contains("daily-usage", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("my-namespace", "my-service-account", HttpStatusCode.OK)]
    [InlineData("my-namespace", "other", HttpStatusCode.Forbidden)]
    [InlineData("other-namespace", "my-service-account", HttpStatusCode.Forbidden)]
    public async Task Admin_admits_my_service_account_of_my_namespace_only(string ns, string serviceAccount, HttpStatusCode expected)
    {
        await using var api = _cluster.CreateSampleApi();

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/admin", _cluster.Issuer.CreateToken(ns, serviceAccount).Build());

        Assert.Equal(expected, response.StatusCode);
    }

    [Theory]
    [InlineData("/reports")]
    [InlineData("/admin")]
    public async Task Protected_endpoints_challenge_without_token(string path)
    {
        await using var api = _cluster.CreateSampleApi();

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), path, token: null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task Issuer_outage_before_the_first_fetch_is_401_not_5xx()
    {
        await using var api = _cluster.CreateSampleApi(new Dictionary<string, string?> { ["MaxKeyFetchWait"] = "00:00:05" });
        var token = _cluster.Issuer.CreateToken().Build();
        _cluster.Stop();

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), "/whoami", token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("retry shortly", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }
}
