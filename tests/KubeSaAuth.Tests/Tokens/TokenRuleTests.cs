// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text;
using System.Text.Json.Nodes;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;

// Not KubeSaAuth.Tests.Tokens: that would hide KubeSaAuth.Tokens from sibling test namespaces writing "Tokens.X".
namespace KubeSaAuth.Tests.Tokens;

/// <summary>Issue 2 §5, one rule per test, each through the real validator and key source.</summary>
public sealed class TokenRuleTests
{
    private readonly KubernetesTestIssuer _issuer = ValidatorHarness.NewIssuer();

    private FakeTimeProvider Clock => (FakeTimeProvider)_issuer.TimeProvider;

    private KubernetesTokenBuilder Token() => _issuer.CreateToken("my-namespace", "my-service-account");

    // ---- keys: kid selection ----

    [Fact]
    public async Task Accepts_token_signed_by_the_key_its_kid_names_among_several()
    {
        var second = _issuer.AddKey();
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertAcceptedAsync(Token().SignedWith(second).Build());
    }

    [Fact]
    public async Task Refuses_token_signed_by_a_published_key_other_than_the_one_its_kid_names()
    {
        var first = _issuer.ActiveKey;
        var second = _issuer.AddKey();
        using var harness = ValidatorHarness.For(_issuer);

        // Signed with the first key but naming the second: only the named key is tried.
        var failure = await harness.AssertRefusedAsync(Token().SignedWith(first).WithKeyId(second.KeyId).Build(), KubernetesTokenFailureReason.InvalidSignature);

        Assert.Contains(second.KeyId, failure.Description, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public async Task Tries_each_key_for_a_token_without_kid(string? kid)
    {
        _issuer.AddKey();
        var signer = _issuer.AddKey(SecurityAlgorithms.RsaSha256, activate: false);
        using var harness = ValidatorHarness.For(_issuer);

        var token = kid is null ? Token().SignedWith(signer).WithKeyId(null).Build() : Token().SignedWith(signer).WithHeader("kid", kid).Build();

        await harness.AssertAcceptedAsync(token);
    }

    [Fact]
    public async Task Refuses_token_without_kid_that_no_key_verifies()
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(Token().SignedWith(TestSigningKey.Create()).WithKeyId(null).Build(), KubernetesTokenFailureReason.InvalidSignature);
    }

    [Fact]
    public async Task Refreshes_the_keys_once_for_an_unknown_kid_then_refuses_without_trying_every_key()
    {
        using var harness = ValidatorHarness.For(_issuer);
        await harness.AssertAcceptedAsync(Token().Build());
        Assert.Equal(1, harness.JwksRequests);
        Clock.Advance(harness.Options.RefreshInterval + TimeSpan.FromSeconds(1));

        // Signed by a published key, but the kid names none: one refresh, then refused (never "try each key").
        await harness.AssertRefusedAsync(Token().WithKeyId("not-a-known-kid").Build(), KubernetesTokenFailureReason.UnknownKey);
        Assert.Equal(2, harness.JwksRequests);

        await harness.AssertRefusedAsync(Token().WithKeyId("another-unknown-kid").Build(), KubernetesTokenFailureReason.UnknownKey);
        Assert.Equal(2, harness.JwksRequests);
    }

    [Fact]
    public async Task Accepts_token_signed_by_a_key_published_after_the_first_fetch_after_one_refresh()
    {
        using var harness = ValidatorHarness.For(_issuer);
        await harness.AssertAcceptedAsync(Token().Build());
        Clock.Advance(harness.Options.RefreshInterval + TimeSpan.FromSeconds(1));
        var rotated = _issuer.AddKey();

        await harness.AssertAcceptedAsync(Token().SignedWith(rotated).Build());

        Assert.Equal(2, harness.JwksRequests);
    }

    // ---- algorithms ----

    [Theory]
    [InlineData("none")]
    [InlineData("HS256")]
    [InlineData("HS512")]
    [InlineData("PS256")]
    [InlineData("RS384")]
    [InlineData("RS512")]
    [InlineData("ES256K")]
    [InlineData("EdDSA")]
    [InlineData("rs256")]
    public async Task Refuses_algorithm_outside_the_allow_list(string algorithm)
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(WithAlgorithm(Token().Build(), algorithm), KubernetesTokenFailureReason.UnsupportedAlgorithm);
    }

    [Theory]
    [InlineData(SecurityAlgorithms.EcdsaSha256)]
    [InlineData(SecurityAlgorithms.EcdsaSha384)]
    [InlineData(SecurityAlgorithms.EcdsaSha512)]
    public async Task Accepts_ecdsa_tokens(string algorithm)
    {
        var key = _issuer.AddKey(algorithm);
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertAcceptedAsync(Token().SignedWith(key).Build());
    }

    [Fact]
    public async Task Refuses_algorithm_other_than_the_one_the_jwk_names()
    {
        // An RS256 signature under a key whose JWK says RS512: the key's own alg wins (RFC 7517 §4.4).
        _issuer.ActiveKey.PublicJwk["alg"] = "RS512";
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(Token().Build(), KubernetesTokenFailureReason.UnsupportedAlgorithm);
    }

    [Fact]
    public async Task Refuses_ecdsa_token_whose_kid_names_an_rsa_key()
    {
        var ec = TestSigningKey.Create(SecurityAlgorithms.EcdsaSha256);
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(Token().SignedWith(ec).WithKeyId(_issuer.ActiveKey.KeyId).Build(), KubernetesTokenFailureReason.UnsupportedAlgorithm);
    }

    [Fact]
    public async Task Accepts_token_without_typ_header()
    {
        using var harness = ValidatorHarness.For(_issuer);
        var token = Token().Build();

        Assert.DoesNotContain("typ", Base64UrlEncoder.Decode(token.Split('.')[0]), StringComparison.Ordinal);
        await harness.AssertAcceptedAsync(token);
    }

    // ---- signature ----

    [Fact]
    public async Task Refuses_forged_payload_under_a_known_key_as_invalid_signature()
    {
        using var harness = ValidatorHarness.For(_issuer);
        await harness.WarmAsync();

        // Only 'sub' rewritten after signing (as neg_tampered_payload): a forgery, not a subject mismatch.
        var forged = ReplacePayload(Token().Build(), p => p["sub"] = "system:serviceaccount:kube-system:admin");

        await harness.AssertRefusedAsync(forged, KubernetesTokenFailureReason.InvalidSignature);
        await harness.AssertRefusedAsync(Token().Tampered().Build(), KubernetesTokenFailureReason.InvalidSignature);
    }

    [Fact]
    public async Task Refuses_a_token_for_its_claims_without_fetching_keys_on_a_cold_start()
    {
        using var harness = ValidatorHarness.For(_issuer);

        var forged = ReplacePayload(Token().Build(), p => p["sub"] = "system:serviceaccount:kube-system:admin");

        await harness.AssertRefusedAsync(forged, KubernetesTokenFailureReason.InvalidSubject);
        await harness.AssertRefusedAsync(Token().WithAudience("vault").Build(), KubernetesTokenFailureReason.InvalidAudience);

        Assert.Equal(0, harness.JwksRequests);
    }

    [Fact]
    public async Task Refuses_forged_issuer_under_a_known_key_as_invalid_signature()
    {
        using var harness = await ValidatorHarness.For(_issuer).WarmAsync();
        var token = Token().Build();
        var forged = ReplacePayload(token, p => p["iss"] = "https://evil.example");

        await harness.AssertRefusedAsync(forged, KubernetesTokenFailureReason.InvalidSignature);
    }

    [Fact]
    public async Task Compares_a_configured_issuer_before_any_key_fetch()
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(Token().WithIssuer("https://other-cluster.example").Build(), KubernetesTokenFailureReason.InvalidIssuer);

        Assert.Equal(0, harness.JwksRequests);
    }

    [Fact]
    public async Task Accepts_an_additional_issuer_with_the_same_keys()
    {
        using var harness = ValidatorHarness.For(_issuer, o => o.AdditionalIssuers.Add("https://old-issuer.example"));

        var outcome = await harness.ValidateAsync(Token().WithIssuer("https://old-issuer.example").Build());

        Assert.Null(outcome.Failure);
        Assert.Equal("https://old-issuer.example", outcome.ServiceAccount!.Issuer);
    }

    [Fact]
    public async Task Refuses_an_issuer_that_is_neither_the_issuer_nor_an_additional_one_naming_both_in_the_log_only()
    {
        using var harness = ValidatorHarness.For(_issuer, o => o.AdditionalIssuers.Add("https://old-issuer.example"));

        var failure = await harness.AssertRefusedAsync(Token().WithIssuer("https://other.example").Build(), KubernetesTokenFailureReason.InvalidIssuer);

        Assert.Contains("'https://other.example'", failure.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("old-issuer", failure.Description, StringComparison.Ordinal);
        Assert.DoesNotContain(_issuer.Issuer, failure.Description, StringComparison.Ordinal);
        Assert.Contains("'https://old-issuer.example'", failure.LogDescription, StringComparison.Ordinal);
        Assert.Contains($"'{_issuer.Issuer}'", failure.LogDescription, StringComparison.Ordinal);
    }

    // ---- iss ----

    [Theory]
    [InlineData("https://other.example")]
    [InlineData("https://kubernetes.default.svc.cluster.local/")]
    [InlineData("HTTPS://kubernetes.default.svc.cluster.local")]
    [InlineData("kubernetes/serviceaccount")]
    public async Task Refuses_bound_token_whose_issuer_is_not_the_configured_one(string issuer)
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(Token().WithIssuer(issuer).Build(), KubernetesTokenFailureReason.InvalidIssuer);
    }

    // ---- aud ----

    [Fact]
    public async Task Accepts_audience_as_a_single_string()
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertAcceptedAsync(Token().WithClaim("aud", "my-api").Build());
    }

    [Fact]
    public async Task Accepts_audience_array_with_one_configured_audience()
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertAcceptedAsync(Token().WithAudience("vault", "my-api", "https://kubernetes.default.svc").Build());
    }

    [Theory]
    [InlineData("my-api/")]
    [InlineData("My-Api")]
    [InlineData(" my-api")]
    [InlineData("https://kubernetes.default.svc")]
    public async Task Refuses_token_whose_audience_is_not_configured(string audience)
    {
        using var harness = ValidatorHarness.For(_issuer);

        var failure = await harness.AssertRefusedAsync(Token().WithAudience(audience).Build(), KubernetesTokenFailureReason.InvalidAudience);

        // The token's audience to the caller; the accepted one only to the log.
        Assert.Contains($"'{audience}'", failure.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("'my-api'", failure.Description, StringComparison.Ordinal);
        Assert.Contains("'my-api'", failure.LogDescription, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refuses_bound_token_without_audience()
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(Token().WithoutClaim("aud").Build(), KubernetesTokenFailureReason.InvalidAudience);
    }

    [Theory]
    [InlineData("[1]")]
    [InlineData("42")]
    [InlineData("{\"a\":1}")]
    public async Task Refuses_audience_that_is_not_a_string_or_string_array(string json)
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(Token().WithClaim("aud", JsonNode.Parse(json)).Build(), KubernetesTokenFailureReason.Malformed);
    }

    // ---- exp, nbf, iat ----

    [Fact]
    public async Task Refuses_bound_token_without_exp()
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(Token().WithoutClaim("exp").Build(), KubernetesTokenFailureReason.MissingExpiration);
    }

    [Theory]
    [InlineData("\"1999999999\"")]
    [InlineData("1999999999.5")]
    [InlineData("true")]
    [InlineData("99999999999999999999")]
    public async Task Refuses_exp_that_is_not_an_integer(string json)
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(Token().WithClaim("exp", JsonNode.Parse(json)).Build(), KubernetesTokenFailureReason.Malformed);
    }

    [Fact]
    public async Task Accepts_token_expired_less_than_the_clock_skew_ago()
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertAcceptedAsync(Token().WithClaim("exp", Now - 30).Build());
    }

    [Fact]
    public async Task Refuses_token_expired_more_than_the_clock_skew_ago()
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(Token().WithClaim("exp", Now - 90).Build(), KubernetesTokenFailureReason.Expired);
    }

    [Fact]
    public async Task Honours_a_configured_clock_skew_of_zero()
    {
        using var harness = ValidatorHarness.For(_issuer, o => o.ClockSkew = TimeSpan.Zero);

        await harness.AssertRefusedAsync(Token().WithClaim("exp", Now - 1).Build(), KubernetesTokenFailureReason.Expired);
    }

    [Theory]
    [InlineData("nbf", 30, true)]
    [InlineData("nbf", 90, false)]
    [InlineData("iat", 30, true)]
    [InlineData("iat", 90, false)]
    public async Task Honours_nbf_and_iat_with_the_clock_skew(string claim, int secondsAhead, bool accepted)
    {
        using var harness = ValidatorHarness.For(_issuer);
        var token = Token().WithClaim(claim, Now + secondsAhead).Build();

        if (accepted)
        {
            await harness.AssertAcceptedAsync(token);
        }
        else
        {
            await harness.AssertRefusedAsync(token, KubernetesTokenFailureReason.NotYetValid);
        }
    }

    [Fact]
    public async Task Refuses_extended_token_past_its_warnafter()
    {
        using var harness = ValidatorHarness.For(_issuer);
        var token = Token().Extended().Build();
        Clock.Advance(TimeSpan.FromHours(2));

        await harness.AssertRefusedAsync(token, KubernetesTokenFailureReason.Expired);
    }

    // ---- kubernetes.io and sub ----

    [Theory]
    [InlineData("{\"serviceaccount\":{\"name\":\"my-service-account\",\"uid\":\"u\"}}")]
    [InlineData("{\"namespace\":\"\",\"serviceaccount\":{\"name\":\"my-service-account\",\"uid\":\"u\"}}")]
    [InlineData("{\"namespace\":\"my-namespace\"}")]
    [InlineData("{\"namespace\":\"my-namespace\",\"serviceaccount\":{\"name\":\"my-service-account\"}}")]
    [InlineData("{\"namespace\":\"my-namespace\",\"serviceaccount\":{\"uid\":\"u\"}}")]
    public async Task Refuses_kubernetes_claim_without_namespace_or_service_account_name_and_uid(string json)
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(Token().WithClaim("kubernetes.io", JsonNode.Parse(json)).Build(), KubernetesTokenFailureReason.MissingClaim);
    }

    [Fact]
    public async Task Refuses_token_with_neither_bound_nor_legacy_claims()
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(Token().WithoutClaim("kubernetes.io").Build(), KubernetesTokenFailureReason.NotServiceAccountToken);
    }

    [Theory]
    [InlineData("system:serviceaccount:other-namespace:my-service-account")]
    [InlineData("system:serviceaccount:my-namespace:other")]
    [InlineData("system:serviceaccount:my-namespace:my-service-account:x")]
    [InlineData("my-namespace:my-service-account")]
    [InlineData("")]
    public async Task Refuses_signed_token_whose_sub_does_not_match_its_claims(string subject)
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(Token().WithSubject(subject).Build(), KubernetesTokenFailureReason.InvalidSubject);
    }

    [Fact]
    public async Task Refuses_token_without_sub()
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(Token().WithoutClaim("sub").Build(), KubernetesTokenFailureReason.InvalidSubject);
    }

    // ---- legacy ----

    [Fact]
    public async Task Refuses_legacy_token_by_default_saying_how_to_enable_it_and_why_not()
    {
        using var harness = ValidatorHarness.For(_issuer);

        var failure = await harness.AssertRefusedAsync(Token().Legacy().Build(), KubernetesTokenFailureReason.LegacyTokenRefused);

        Assert.Contains("AcceptLegacyTokens", failure.Description, StringComparison.Ordinal);
        Assert.Contains("never expire", failure.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Accepts_legacy_token_when_enabled()
    {
        using var harness = ValidatorHarness.For(_issuer, o => o.AcceptLegacyTokens = true);

        var caller = await harness.AssertAcceptedAsync(Token().Legacy("my-secret").Build());

        Assert.True(caller.IsLegacy);
        Assert.Equal("my-secret", caller.SecretName);
        Assert.Null(caller.ExpiresAt);
    }

    [Fact]
    public async Task Refuses_legacy_token_whose_issuer_is_not_kubernetes_serviceaccount()
    {
        using var harness = ValidatorHarness.For(_issuer, o => o.AcceptLegacyTokens = true);

        await harness.AssertRefusedAsync(Token().Legacy().WithIssuer(_issuer.Issuer).Build(), KubernetesTokenFailureReason.InvalidIssuer);
    }

    [Fact]
    public async Task Refuses_legacy_token_whose_sub_does_not_match_its_claims()
    {
        using var harness = ValidatorHarness.For(_issuer, o => o.AcceptLegacyTokens = true);

        await harness.AssertRefusedAsync(Token().Legacy().WithSubject("system:serviceaccount:kube-system:admin").Build(), KubernetesTokenFailureReason.InvalidSubject);
    }

    [Fact]
    public async Task Refuses_legacy_token_signed_by_a_key_outside_the_key_set()
    {
        using var harness = ValidatorHarness.For(_issuer, o => o.AcceptLegacyTokens = true);
        await harness.WarmAsync();

        await harness.AssertRefusedAsync(Token().Legacy().SignedWith(TestSigningKey.Create()).WithKeyId(null).Build(), KubernetesTokenFailureReason.InvalidSignature);
    }

    // ---- size ----

    [Fact]
    public async Task Refuses_token_longer_than_MaxTokenSize_before_parsing_it()
    {
        using var harness = ValidatorHarness.For(_issuer);

        // Not even a JWT: the size check comes first, so the reason is the size, not the shape.
        await harness.AssertRefusedAsync(new string('a', harness.Options.MaxTokenSize + 1), KubernetesTokenFailureReason.TooLarge);
        Assert.Equal(0, harness.JwksRequests);
    }

    [Fact]
    public async Task Honours_a_configured_MaxTokenSize()
    {
        var token = Token().WithClaim("padding", new string('x', 1500)).Build();
        using var small = ValidatorHarness.For(_issuer, o => o.MaxTokenSize = 2048);
        using var large = ValidatorHarness.For(_issuer, o => o.MaxTokenSize = 4096);

        await small.AssertRefusedAsync(token, KubernetesTokenFailureReason.TooLarge);
        await large.AssertAcceptedAsync(token);
    }

    private long Now => Clock.GetUtcNow().ToUnixTimeSeconds();

    private static string WithAlgorithm(string token, string algorithm)
    {
        var parts = token.Split('.');
        var header = JsonNode.Parse(Base64UrlEncoder.Decode(parts[0]))!;
        header["alg"] = algorithm;
        return Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + parts[1] + "." + parts[2];
    }

    private static string ReplacePayload(string token, Action<JsonNode> change)
    {
        var parts = token.Split('.');
        var payload = JsonNode.Parse(Base64UrlEncoder.Decode(parts[1]))!;
        change(payload);
        return parts[0] + "." + Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(payload.ToJsonString())) + "." + parts[2];
    }
}
