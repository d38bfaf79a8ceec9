// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using KubeSaAuth.Keys;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Tests.Vectors;

/// <summary>Every token, JWKS and discovery document of the repository's vectors file, through the real rules.</summary>
public sealed class KubernetesTokenVectorTests
{
    private const string Derived = "derived_with_k8s_test_keys";
    private const string Vault = "verbatim_vault_plugin_vectors";
    private const string ClusterIssuer = "https://kubernetes.default.svc.cluster.local";

    [Theory]
    [InlineData("bound_pod_rs256_extended", "kube-system", "coredns", "coredns-69cbfb9798-jv9gn")]
    [InlineData("bound_node_rs256", "default", "node-agent", null)]
    [InlineData("bound_secret_rs256_multi_aud", "test", "my-service-account", null)]
    [InlineData("bound_sa_only_rs256", "test", "my-service-account", null)]
    [InlineData("bound_pod_es256", "kube-system", "coredns", "coredns-69cbfb9798-jv9gn")]
    public async Task Accepts_derived_bound_token_with_the_kubernetes_unit_test_jwks(string name, string ns, string serviceAccount, string? pod)
    {
        var token = TokenVectors.Token(Derived, name);
        var audience = TokenVectors.Section(Derived)[name]!["payload"]!["aud"]![0]!.GetValue<string>();
        using var harness = ValidatorHarness.For(TokenVectors.K8sJwks, TokenVectors.InsideLifetime(token), ClusterIssuer, audience);

        var caller = await harness.AssertAcceptedAsync(token);

        Assert.False(caller.IsLegacy);
        Assert.Equal(ns, caller.Namespace);
        Assert.Equal(serviceAccount, caller.Name);
        Assert.Equal(pod, caller.PodName);
    }

    [Fact]
    public async Task Accepts_the_second_audience_of_a_multi_audience_vector()
    {
        var token = TokenVectors.Token(Derived, "bound_secret_rs256_multi_aud");
        using var harness = ValidatorHarness.For(TokenVectors.K8sJwks, TokenVectors.InsideLifetime(token), ClusterIssuer, "https://vault.example.com");

        var caller = await harness.AssertAcceptedAsync(token);

        Assert.Equal("my-secret", caller.SecretName);
    }

    [Theory]
    [InlineData("neg_tampered_payload", KubernetesTokenFailureReason.InvalidSignature)]
    [InlineData("neg_unknown_kid", KubernetesTokenFailureReason.UnknownKey)]
    [InlineData("neg_alg_none", KubernetesTokenFailureReason.UnsupportedAlgorithm)]
    [InlineData("neg_hs256_confusion", KubernetesTokenFailureReason.UnsupportedAlgorithm)]
    public async Task Refuses_negative_vector_with_the_expected_reason(string name, KubernetesTokenFailureReason reason)
    {
        var token = TokenVectors.Token(Derived, name);
        using var harness = ValidatorHarness.For(TokenVectors.K8sJwks, TokenVectors.InsideLifetime(token), ClusterIssuer, ClusterIssuer);
        await harness.WarmAsync();

        await harness.AssertRefusedAsync(token, reason);
    }

    [Fact]
    public void Every_negative_vector_is_covered_by_the_table()
    {
        var covered = new[] { "neg_tampered_payload", "neg_unknown_kid", "neg_alg_none", "neg_hs256_confusion" };
        var negatives = TokenVectors.Section(Derived).Select(p => p.Key).Where(k => k.StartsWith("neg_", StringComparison.Ordinal));

        Assert.All(negatives, n => Assert.Contains(n, covered));
    }

    [Fact]
    public async Task Refuses_derived_token_when_the_kid_names_another_public_key()
    {
        var keys = TokenVectors.Section("verbatim_k8s_unit_test_keys");
        var jwks = TokenVectors.JwksFromPem(keys["other_rsa_public_pem"]!.GetValue<string>(), keys["rsa_kid"]!.GetValue<string>(), "RS256");
        var token = TokenVectors.Token(Derived, "bound_sa_only_rs256");
        using var harness = ValidatorHarness.For(jwks, TokenVectors.InsideLifetime(token), ClusterIssuer, ClusterIssuer);
        await harness.WarmAsync();

        await harness.AssertRefusedAsync(token, KubernetesTokenFailureReason.InvalidSignature);
    }

    [Fact]
    public async Task Refuses_derived_legacy_token_by_default_with_how_to_enable_it()
    {
        var token = TokenVectors.Token(Derived, "legacy_rs256");
        using var harness = ValidatorHarness.For(TokenVectors.K8sJwks, TokenVectors.InsideLifetime(token), ClusterIssuer, ClusterIssuer);

        var failure = await harness.AssertRefusedAsync(token, KubernetesTokenFailureReason.LegacyTokenRefused);

        Assert.Contains("AcceptLegacyTokens", failure.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Accepts_derived_legacy_token_when_enabled()
    {
        var token = TokenVectors.Token(Derived, "legacy_rs256");
        using var harness = ValidatorHarness.For(TokenVectors.K8sJwks, TokenVectors.InsideLifetime(token), ClusterIssuer, ClusterIssuer, o => o.AcceptLegacyTokens = true);

        var caller = await harness.AssertAcceptedAsync(token);

        Assert.True(caller.IsLegacy);
        Assert.Equal("test", caller.Namespace);
        Assert.Equal("my-rsa-secret", caller.SecretName);
        Assert.Equal("system:serviceaccount:test:my-service-account", caller.Username);
    }

    [Fact]
    public async Task Accepts_minikube_bound_token_whose_issuer_is_kubernetes_serviceaccount_as_bound()
    {
        var vector = TokenVectors.Section(Vault)["projected_minikube_1_18"]!;
        var jwks = vector["jwks_derived"]!.ToJsonString();
        using var harness = ValidatorHarness.For(jwks, MinikubeClock, "kubernetes/serviceaccount", "kubernetes.default.svc");

        var caller = await harness.AssertAcceptedAsync(vector["token"]!.GetValue<string>());

        Assert.False(caller.IsLegacy);
        Assert.Equal("default", caller.Namespace);
        Assert.Equal("vault", caller.PodName);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1920082797), caller.ExpiresAt);
    }

    [Fact]
    public async Task Accepts_minikube_bound_token_with_a_jwks_built_from_its_public_key_pem()
    {
        var vector = TokenVectors.Section(Vault)["projected_minikube_1_18"]!;
        var jwks = TokenVectors.JwksFromPem(vector["public_key_pem"]!.GetValue<string>(), "pJcxkJ4q0O1tOt0Z37VB6-x6Mw8xFZSxM9roPtMQq0A", "RS256");
        using var harness = ValidatorHarness.For(jwks, MinikubeClock, "kubernetes/serviceaccount", "kubernetes.default.svc");

        await harness.AssertAcceptedAsync(vector["token"]!.GetValue<string>());
    }

    [Fact]
    public async Task Refuses_the_expired_minikube_twin_as_expired()
    {
        var vector = TokenVectors.Section(Vault)["projected_minikube_1_18_expired"]!;
        var jwks = TokenVectors.Section(Vault)["projected_minikube_1_18"]!["jwks_derived"]!.ToJsonString();
        using var harness = ValidatorHarness.For(jwks, MinikubeClock, "kubernetes/serviceaccount", "kubernetes.default.svc");

        await harness.AssertRefusedAsync(vector["token"]!.GetValue<string>(), KubernetesTokenFailureReason.Expired);
    }

    [Theory]
    [InlineData("legacy_pre_kid_rs256", "vault-auth")]
    [InlineData("legacy_bad_service_account", "vault-invalid")]
    public async Task Accepts_vault_legacy_token_without_kid_when_enabled(string name, string serviceAccount)
    {
        var vector = TokenVectors.Section(Vault)[name]!;
        var jwks = TokenVectors.JwksFromPem(vector["cert_pem"]!.GetValue<string>(), kid: null, alg: null);
        using var harness = ValidatorHarness.For(jwks, MinikubeClock, ClusterIssuer, "my-api", o => o.AcceptLegacyTokens = true);

        var caller = await harness.AssertAcceptedAsync(vector["token"]!.GetValue<string>());

        Assert.True(caller.IsLegacy);
        Assert.Equal(serviceAccount, caller.Name);
    }

    [Fact]
    public async Task Refuses_vault_legacy_token_by_default()
    {
        var vector = TokenVectors.Section(Vault)["legacy_pre_kid_rs256"]!;
        var jwks = TokenVectors.JwksFromPem(vector["cert_pem"]!.GetValue<string>(), kid: null, alg: null);
        using var harness = ValidatorHarness.For(jwks, MinikubeClock, ClusterIssuer, "my-api");

        await harness.AssertRefusedAsync(vector["token"]!.GetValue<string>(), KubernetesTokenFailureReason.LegacyTokenRefused);
    }

    [Fact]
    public async Task Refuses_vault_legacy_token_signed_by_an_unrelated_key()
    {
        var certificate = TokenVectors.Section(Vault)["legacy_pre_kid_rs256"]!["cert_pem"]!.GetValue<string>();
        var jwks = TokenVectors.JwksFromPem(certificate, kid: null, alg: null);
        using var harness = ValidatorHarness.For(jwks, MinikubeClock, ClusterIssuer, "my-api", o => o.AcceptLegacyTokens = true);
        await harness.WarmAsync();

        await harness.AssertRefusedAsync(TokenVectors.Token(Vault, "legacy_bad_signing_key"), KubernetesTokenFailureReason.InvalidSignature);
    }

    [Fact]
    public async Task Refuses_handmade_es384_token_without_secret_name_for_the_missing_claim_not_the_signature()
    {
        var vector = TokenVectors.Section(Vault)["ecdsa_es384_handmade"]!;
        var jwks = TokenVectors.JwksFromPem(vector["public_key_pem"]!.GetValue<string>(), "iTqXXI0zbAnJCKDaobfhkM1f-6rMSpTfyZMRp_2tKI8", "ES384");
        using var harness = ValidatorHarness.For(jwks, MinikubeClock, ClusterIssuer, "my-api", o => o.AcceptLegacyTokens = true);

        var failure = await harness.AssertRefusedAsync(vector["token"]!.GetValue<string>(), KubernetesTokenFailureReason.MissingClaim);

        Assert.Contains("secret.name", failure.Description, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("projected_gke_2020", false)]
    [InlineData("legacy_gke_2020", true)]
    public void Parses_gke_token_with_empty_kid_as_no_kid(string name, bool legacy)
    {
        var token = TokenVectors.Section("verbatim_istio_gke_tokens_parse_only")[name]!.GetValue<string>();
        using var harness = ValidatorHarness.For(TokenVectors.K8sJwks, MinikubeClock, ClusterIssuer, "my-api");

        var parsed = harness.Validator.Parse(token, out var failure);

        Assert.Null(failure);
        Assert.NotNull(parsed);
        Assert.Null(parsed.Value.Header.KeyId);
        Assert.Equal(legacy, parsed.Value.Payload.Kubernetes is null);
        Assert.Equal("foo", legacy ? parsed.Value.Payload.LegacyNamespace : parsed.Value.Payload.Kubernetes!.Namespace);
    }

    [Fact]
    public async Task Refuses_gke_token_under_keys_that_did_not_sign_it_by_trying_each_key()
    {
        var token = TokenVectors.Section("verbatim_istio_gke_tokens_parse_only")["projected_gke_2020"]!.GetValue<string>();
        var issuer = "https://container.googleapis.com/v1/projects/yonggangl-istio-4/locations/us-central1-a/clusters/cluster-3";
        using var harness = ValidatorHarness.For(TokenVectors.K8sJwks, TokenVectors.InsideLifetime(token), issuer, "yonggangl-istio-4.svc.id.goog");

        var failure = await harness.AssertRefusedAsync(token, KubernetesTokenFailureReason.InvalidSignature);

        Assert.Contains("any of the issuer's keys", failure.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reads_the_kubernetes_discovery_document_and_jwks()
    {
        var section = TokenVectors.Section("verbatim_k8s_discovery_and_jwks");
        var discovery = section["openid_configuration_raw"]!.GetValue<string>();
        var jwks = section["jwks_raw"]!.GetValue<string>();
        var retriever = new KeySetRetriever("https://issuer.example.com/.well-known/openid-configuration", null, requireHttps: true);
        using var client = new HttpClient(new DocumentsHandler(discovery, jwks));

        var retrieved = await retriever.RetrieveAsync(client, CancellationToken.None);

        Assert.Equal("https://issuer.example.com", retrieved.DiscoveredIssuer);
        Assert.Equal("https://issuer.example.com/openid/v1/jwks", retrieved.JwksUri);
        var keys = retrieved.Keys.Select(k => SigningKey.TryCreate(k, out _)).ToArray();
        Assert.All(keys, Assert.NotNull);
        Assert.Equal(["RS256", "ES256"], keys.Select(k => k!.Algorithm));
    }

    [Fact]
    public void Structured_discovery_document_matches_its_raw_text()
    {
        var section = TokenVectors.Section("verbatim_k8s_discovery_and_jwks");

        Assert.True(JsonNode.DeepEquals(section["openid_configuration"], JsonNode.Parse(section["openid_configuration_raw"]!.GetValue<string>())));
    }

    // Inside the minikube token's lifetime and after its expired twin's exp (1604083886) plus clock skew.
    private static DateTimeOffset MinikubeClock => DateTimeOffset.FromUnixTimeSeconds(1604090000);

    private sealed class DocumentsHandler(string discovery, string jwks) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var path = request.RequestUri!.AbsolutePath;
            var (body, type) = path == "/openid/v1/jwks" ? (jwks, "application/jwk-set+json") : (discovery, "application/json");
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, type) });
        }
    }
}
