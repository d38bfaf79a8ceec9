// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.Tests.Keys;
using KubeSaAuth.Tests.Vectors;
using Microsoft.Extensions.Time.Testing;

namespace KubeSaAuth.Tests.Tokens;

/// <summary>
/// The <c>neg_*</c> vectors of the repository's vectors file (signed with the Kubernetes unit-test keys), sent
/// over HTTP to a host that trusts the Kubernetes test JWKS, at the vectors' own time.
/// </summary>
public sealed class NegativeVectorTests
{
    private static readonly DateTimeOffset VectorTime = DateTimeOffset.FromUnixTimeSeconds(1700000100);

    public static TheoryData<string> NegativeVectors
    {
        get
        {
            var data = new TheoryData<string>();
            JsonNode vectors = TokenVectors.Document;
            foreach (var (name, _) in vectors["derived_with_k8s_test_keys"]!.AsObject())
            {
                if (name.StartsWith("neg_", StringComparison.Ordinal))
                {
                    data.Add(name);
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(NegativeVectors))]
    public async Task Negative_vector_is_refused_with_401_and_a_reason(string name)
    {
        JsonNode vectors = TokenVectors.Document;
        await using var host = await StartAsync(vectors);
        var token = vectors["derived_with_k8s_test_keys"]![name]!["token"]!.GetValue<string>();

        var outcome = await host.SendAsync(token);

        Assert.Equal(HttpStatusCode.Unauthorized, outcome.Status);
        Assert.NotNull(outcome.Reason);
        Assert.False(string.IsNullOrWhiteSpace(outcome.Description));
    }

    [Fact]
    public async Task Positive_control_vector_is_accepted_by_the_same_host()
    {
        JsonNode vectors = TokenVectors.Document;
        await using var host = await StartAsync(vectors);
        var token = vectors["derived_with_k8s_test_keys"]!["bound_sa_only_rs256"]!["token"]!.GetValue<string>();

        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(token)).Status);
    }

    private static Task<KeysTestHost> StartAsync(JsonNode vectors)
    {
        var jwks = vectors["verbatim_k8s_discovery_and_jwks"]!["jwks_raw"]!.GetValue<string>();
        return KeysTestHost.StartAsync(new FakeTimeProvider(VectorTime), o =>
        {
            o.Issuer = "https://kubernetes.default.svc.cluster.local";
            o.JwksUri = "https://issuer.example.com/openid/v1/jwks";
            o.Audiences.Add("https://kubernetes.default.svc.cluster.local");
            o.Backchannel = new HttpClient(new JwksHandler(jwks));
        }, kestrel: true);
    }

    private sealed class JwksHandler(string jwks) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent(jwks, Encoding.UTF8, "application/jwk-set+json"),
            });
    }
}
