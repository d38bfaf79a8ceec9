// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.IdentityModel.Tokens;
using R = KubeSaAuth.KubernetesTokenFailureReason;

namespace KubeSaAuth.Tests.Tokens;

/// <summary>
/// Issue 3 §6: hostile tokens and Authorization headers sent over HTTP to the real handler. Every one is
/// answered 401 with a reason (never a 5xx, never a hang), and no reason echoes a huge value from the token.
/// </summary>
public sealed class HostileTokenTests(HostileTokenFixture f) : IClassFixture<HostileTokenFixture>
{
    private static readonly long T = HostileTokenFixture.Now.ToUnixTimeSeconds();

    private static readonly Dictionary<string, (Func<HostileTokenFixture, Action<HttpRequestMessage>> Request, R? Reason)> Cases = Build();

    public static TheoryData<string> Names => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(Names))]
    public async Task Hostile_request_is_refused_with_401_and_a_reason(string name)
    {
        var (request, reason) = Cases[name];

        var outcome = await f.Host.SendAsync(request(f));

        Assert.Equal(HttpStatusCode.Unauthorized, outcome.Status);
        Assert.NotNull(outcome.Reason);
        if (reason is not null)
        {
            Assert.Equal(reason, outcome.Reason);
        }

        Assert.False(string.IsNullOrWhiteSpace(outcome.Description));
        Assert.True(outcome.Description!.Length <= 400, $"The reason is {outcome.Description.Length} characters long: {outcome.Description[..Math.Min(200, outcome.Description.Length)]}…");
        Assert.Contains("error=", outcome.Challenge, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Suite_has_at_least_100_cases_and_a_valid_token_passes()
    {
        Assert.True(Cases.Count >= 100, $"{Cases.Count} cases");
        Assert.Equal(HttpStatusCode.OK, (await f.Host.SendAsync(f.Valid())).Status);
    }

    [Theory]
    [InlineData(-60, 0)]
    [InlineData(0, 60)]
    public async Task Token_at_the_clock_skew_boundary_is_accepted(int expiresInSeconds, int notBeforeInSeconds)
    {
        var token = f.WithClaims(p =>
        {
            p["exp"] = T + expiresInSeconds;
            p["nbf"] = T + notBeforeInSeconds;
            p["iat"] = T + notBeforeInSeconds;
        });

        Assert.Equal(HttpStatusCode.OK, (await f.Host.SendAsync(token)).Status);
    }

    [Fact]
    public async Task Key_urls_in_the_header_are_never_fetched()
    {
        var url = f.Attacker.Url!;
        foreach (var header in new[] { "jku", "x5u" })
        {
            var token = f.WithHeader($"{{\"alg\":\"RS256\",\"kid\":\"{f.Rsa.KeyId}\",\"{header}\":\"{url}/jwks\"}}");
            Assert.Equal(HttpStatusCode.Unauthorized, (await f.Host.SendAsync(token)).Status);
        }

        Assert.Empty(f.Attacker.LogEntries);
    }

    private static Action<HttpRequestMessage> Bearer(string token) => r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);

    private static Dictionary<string, (Func<HostileTokenFixture, Action<HttpRequestMessage>>, R?)> Build()
    {
        var cases = new Dictionary<string, (Func<HostileTokenFixture, Action<HttpRequestMessage>>, R?)>(StringComparer.Ordinal);
        void Token(string name, R? reason, Func<HostileTokenFixture, string> token) => cases.Add(name, (x => Bearer(token(x)), reason));
        void Header(string name, R? reason, Func<HostileTokenFixture, Action<HttpRequestMessage>> request) => cases.Add(name, (request, reason));
        string Kid(HostileTokenFixture x) => x.Rsa.KeyId;

        // Algorithms: only RS256/ES256/ES384/ES512, exactly as written, and only the one the key allows.
        Token("alg_none_unsigned", R.UnsupportedAlgorithm, x => HostileTokenFixture.B64("{\"alg\":\"none\"}") + "." + HostileTokenFixture.B64(x.PayloadJson) + ".");
        foreach (var none in new[] { "none", "None", "nOnE", "NONE" })
        {
            Token($"alg_{none}_with_signature", R.UnsupportedAlgorithm, x => x.WithHeader($"{{\"alg\":\"{none}\",\"kid\":\"{Kid(x)}\"}}"));
        }

        Token("alg_empty", R.UnsupportedAlgorithm, x => x.WithHeader($"{{\"alg\":\"\",\"kid\":\"{Kid(x)}\"}}"));
        Token("alg_missing", R.Malformed, x => x.WithHeader($"{{\"kid\":\"{Kid(x)}\"}}"));
        Token("alg_null", R.Malformed, x => x.WithHeader($"{{\"alg\":null,\"kid\":\"{Kid(x)}\"}}"));
        Token("alg_number", R.Malformed, x => x.WithHeader($"{{\"alg\":256,\"kid\":\"{Kid(x)}\"}}"));
        Token("alg_array", R.Malformed, x => x.WithHeader($"{{\"alg\":[\"RS256\"],\"kid\":\"{Kid(x)}\"}}"));
        Token("alg_lowercase", R.UnsupportedAlgorithm, x => x.WithHeader($"{{\"alg\":\"rs256\",\"kid\":\"{Kid(x)}\"}}"));
        Token("alg_trailing_space", R.UnsupportedAlgorithm, x => x.WithHeader($"{{\"alg\":\"RS256 \",\"kid\":\"{Kid(x)}\"}}"));
        Token("hs256_keyed_with_public_key_pem", R.UnsupportedAlgorithm, x => x.Hmac("HS256", x.PublicKeyPem()));
        Token("hs256_keyed_with_modulus", R.UnsupportedAlgorithm, x => x.Hmac("HS256", Base64UrlEncoder.DecodeBytes(x.Rsa.PublicJwk["n"]!.GetValue<string>())));
        Token("hs256_keyed_with_jwk_text", R.UnsupportedAlgorithm, x => x.Hmac("HS256", Encoding.UTF8.GetBytes(x.Rsa.PublicJwk.ToJsonString())));
        Token("hs384_keyed_with_public_key_pem", R.UnsupportedAlgorithm, x => x.Hmac("HS384", x.PublicKeyPem()));
        Token("hs512_keyed_with_public_key_pem", R.UnsupportedAlgorithm, x => x.Hmac("HS512", x.PublicKeyPem()));
        foreach (var alg in new[] { "PS256", "PS384", "PS512", "RS384", "RS512" })
        {
            Token($"{alg.ToLowerInvariant()}_under_rs256_key", R.UnsupportedAlgorithm, x => x.Sign($"{{\"alg\":\"{alg}\",\"kid\":\"{Kid(x)}\"}}", x.PayloadJson, algorithm: alg));
        }

        Token("es256_header_on_rsa_kid", R.UnsupportedAlgorithm, x => x.Sign($"{{\"alg\":\"ES256\",\"kid\":\"{Kid(x)}\"}}", x.PayloadJson, TestSigningKey.Create(SecurityAlgorithms.EcdsaSha256)));
        Token("rs256_header_on_ec_kid", R.UnsupportedAlgorithm, x => x.Sign($"{{\"alg\":\"RS256\",\"kid\":\"{x.Ec.KeyId}\"}}", x.PayloadJson));
        Token("es384_header_on_p256_kid", R.UnsupportedAlgorithm, x => x.Sign($"{{\"alg\":\"ES384\",\"kid\":\"{x.Ec.KeyId}\"}}", x.PayloadJson, TestSigningKey.Create(SecurityAlgorithms.EcdsaSha384)));

        // Keys: a foreign key, a kid we do not have, hostile kid values.
        Token("foreign_key_under_real_kid", R.InvalidSignature, x => x.Sign(x.HeaderJson, x.PayloadJson, TestSigningKey.Create()));
        Token("foreign_key_without_kid", R.InvalidSignature, x => x.Sign("{\"alg\":\"RS256\"}", x.PayloadJson, TestSigningKey.Create()));
        Token("foreign_ec_key_under_real_ec_kid", R.InvalidSignature, x => x.Sign($"{{\"alg\":\"ES256\",\"kid\":\"{x.Ec.KeyId}\"}}", x.PayloadJson, TestSigningKey.Create(SecurityAlgorithms.EcdsaSha256)));
        Token("unknown_kid", R.UnknownKey, x => x.WithHeader("{\"alg\":\"RS256\",\"kid\":\"not-a-known-kid\"}"));
        Token("huge_kid", R.UnknownKey, x => x.WithHeader($"{{\"alg\":\"RS256\",\"kid\":\"{new string('k', 8000)}\"}}"));
        Token("kid_path_traversal", R.UnknownKey, x => x.WithHeader("{\"alg\":\"RS256\",\"kid\":\"../../../../etc/passwd\"}"));
        Token("kid_sql_injection", R.UnknownKey, x => x.WithHeader("{\"alg\":\"RS256\",\"kid\":\"' OR '1'='1\"}"));
        Token("kid_control_characters", R.UnknownKey, x => x.WithHeader("{\"alg\":\"RS256\",\"kid\":\"a\\u0000b\\r\\nc\"}"));
        Token("kid_number", R.Malformed, x => x.WithHeader("{\"alg\":\"RS256\",\"kid\":1}"));
        Token("kid_object", R.Malformed, x => x.WithHeader("{\"alg\":\"RS256\",\"kid\":{\"a\":1}}"));

        // Header parameters that would let the token choose its key, or change how it is processed.
        Token("embedded_jwk", R.UnsupportedHeader, x =>
        {
            var attacker = TestSigningKey.Create();
            return x.Sign($"{{\"alg\":\"RS256\",\"kid\":\"{attacker.KeyId}\",\"jwk\":{attacker.PublicJwk.ToJsonString()}}}", x.PayloadJson, attacker);
        });
        Token("jku_header", R.UnsupportedHeader, x => x.WithHeader($"{{\"alg\":\"RS256\",\"kid\":\"{Kid(x)}\",\"jku\":\"{x.Attacker.Url}/jwks\"}}"));
        Token("x5u_header", R.UnsupportedHeader, x => x.WithHeader($"{{\"alg\":\"RS256\",\"kid\":\"{Kid(x)}\",\"x5u\":\"{x.Attacker.Url}/cert\"}}"));
        Token("x5c_header", R.UnsupportedHeader, x => x.WithHeader($"{{\"alg\":\"RS256\",\"kid\":\"{Kid(x)}\",\"x5c\":[\"MIIB\"]}}"));
        Token("crit_unknown_name", R.UnsupportedHeader, x => x.WithHeader($"{{\"alg\":\"RS256\",\"kid\":\"{Kid(x)}\",\"crit\":[\"x-policy\"],\"x-policy\":1}}"));
        Token("crit_empty", R.UnsupportedHeader, x => x.WithHeader($"{{\"alg\":\"RS256\",\"kid\":\"{Kid(x)}\",\"crit\":[]}}"));
        Token("crit_exp", R.UnsupportedHeader, x => x.WithHeader($"{{\"alg\":\"RS256\",\"kid\":\"{Kid(x)}\",\"crit\":[\"exp\"]}}"));
        Token("b64_false_with_crit", R.UnsupportedHeader, x => x.WithHeader($"{{\"alg\":\"RS256\",\"kid\":\"{Kid(x)}\",\"b64\":false,\"crit\":[\"b64\"]}}"));
        Token("b64_false", R.UnsupportedHeader, x => x.WithHeader($"{{\"alg\":\"RS256\",\"kid\":\"{Kid(x)}\",\"b64\":false}}"));
        Token("enc_header", R.UnsupportedHeader, x => x.WithHeader($"{{\"alg\":\"RS256\",\"kid\":\"{Kid(x)}\",\"enc\":\"A256GCM\"}}"));
        Token("zip_header", R.UnsupportedHeader, x => x.WithHeader($"{{\"alg\":\"RS256\",\"kid\":\"{Kid(x)}\",\"zip\":\"DEF\"}}"));
        Token("jwe_five_segments", R.UnsupportedHeader, x => HostileTokenFixture.B64("{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\"}") + ".AAAA.AAAA.AAAA.AAAA");

        // Signatures.
        Token("signature_stripped", R.Malformed, x => x.Valid()[..(x.Valid().LastIndexOf('.') + 1)]);
        Token("signature_truncated", R.InvalidSignature, x => x.Valid()[..^8]);
        Token("signature_one_character", R.InvalidSignature, x => x.Valid()[..(x.Valid().LastIndexOf('.') + 1)] + "A");
        Token("signature_garbled", R.InvalidSignature, x => Garble(x.Valid()));
        Token("signature_all_zero", R.InvalidSignature, x => Resign(x.Valid(), new byte[256]));
        Token("signature_all_ff", R.InvalidSignature, x => Resign(x.Valid(), Enumerable.Repeat((byte)0xFF, 256).ToArray()));
        Token("signature_doubled", R.InvalidSignature, x => x.Valid() + SignatureOf(x.Valid()));
        Token("signature_of_another_token", R.InvalidSignature, x => Resign(x.Valid(), Base64UrlEncoder.DecodeBytes(SignatureOf(x.Issuer.CreateToken("other", "sa").Build()))));
        Token("ecdsa_r_and_s_zero", R.InvalidSignature, x => Resign(x.Sign($"{{\"alg\":\"ES256\",\"kid\":\"{x.Ec.KeyId}\"}}", x.PayloadJson, x.Ec), new byte[64]));
        Token("ecdsa_r_and_s_one", R.InvalidSignature, x => Resign(x.Sign($"{{\"alg\":\"ES256\",\"kid\":\"{x.Ec.KeyId}\"}}", x.PayloadJson, x.Ec), [.. new byte[31], 1, .. new byte[31], 1]));
        Token("ecdsa_der_encoded_signature", R.InvalidSignature, x =>
        {
            var token = x.Sign($"{{\"alg\":\"ES256\",\"kid\":\"{x.Ec.KeyId}\"}}", x.PayloadJson, x.Ec);
            var ecdsa = ((ECDsaSecurityKey)x.Ec.SecurityKey).ECDsa;
            var der = ecdsa.SignData(Encoding.ASCII.GetBytes(token[..token.LastIndexOf('.')]), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
            return Resign(token, der);
        });
        Token("ecdsa_signature_truncated", R.InvalidSignature, x => x.Sign($"{{\"alg\":\"ES256\",\"kid\":\"{x.Ec.KeyId}\"}}", x.PayloadJson, x.Ec)[..^10]);

        // Payload edits after signing.
        Token("tampered_subject", null, x => x.Issuer.CreateToken("my-namespace", "my-service-account").Tampered().Build());
        Token("tampered_namespace_consistently", R.InvalidSignature, x => Swap(x.Valid(), p => p.Replace("my-namespace", "kube-system", StringComparison.Ordinal)));
        Token("tampered_expiry", R.InvalidSignature, x => Swap(x.Valid(), p => p.Replace($"\"exp\":{T + 3600}", $"\"exp\":{T + 360000}", StringComparison.Ordinal)));
        Token("tampered_audience", R.InvalidSignature, x => Swap(x.Valid(), p => p.Replace("[\"my-api\"]", "[\"my-api\",\"other\"]", StringComparison.Ordinal)));

        // Encoding: unpadded base64url only, exactly three segments.
        Token("plus_in_signature", R.Malformed, x => Replace(x.Valid(), 2, s => "+" + s[1..]));
        Token("slash_in_signature", R.Malformed, x => Replace(x.Valid(), 2, s => "/" + s[1..]));
        Token("plus_in_header", R.Malformed, x => Replace(x.Valid(), 0, s => s[..^1] + "+"));
        Token("slash_in_payload", R.Malformed, x => Replace(x.Valid(), 1, s => s[..^1] + "/"));
        Token("padded_header", R.Malformed, x => Replace(x.Valid(), 0, s => s + "=="));
        Token("padded_payload", R.Malformed, x => Replace(x.Valid(), 1, s => s + "="));
        Token("padded_signature", R.Malformed, x => Replace(x.Valid(), 2, s => s + "=="));
        Token("standard_base64_payload", R.Malformed, x => Replace(x.Valid(), 1, s => Convert.ToBase64String(Base64UrlEncoder.DecodeBytes(s)) + (s.Contains('-', StringComparison.Ordinal) || s.Contains('_', StringComparison.Ordinal) ? string.Empty : "=")));
        Token("four_segments", R.Malformed, x => x.Valid() + ".AAAA");
        Token("six_segments", R.Malformed, x => x.Valid() + ".AAAA.AAAA.AAAA");
        Token("trailing_dot", R.Malformed, x => x.Valid() + ".");
        Token("leading_dot", R.Malformed, x => "." + x.Valid());
        Token("empty_payload_segment", R.Malformed, x => Replace(x.Valid(), 1, _ => string.Empty));
        Token("one_segment", R.Malformed, x => x.Valid().Split('.')[0]);
        Token("only_dots", R.Malformed, _ => "..");
        Token("not_a_jwt", R.Malformed, _ => "hello-world");
        Token("percent_encoded", R.Malformed, x => x.Valid().Replace(".", "%2E", StringComparison.Ordinal));

        // JSON: objects only, valid UTF-8, strict grammar, no duplicate members, bounded depth.
        Token("header_not_json", R.Malformed, x => HostileTokenFixture.B64("hello") + "." + x.Valid().Split('.', 2)[1]);
        Token("header_json_array", R.Malformed, x => x.WithHeader($"[\"RS256\",\"{Kid(x)}\"]"));
        Token("header_json_string", R.Malformed, x => x.WithHeader("\"RS256\""));
        Token("header_json_null", R.Malformed, x => x.WithHeader("null"));
        Token("payload_not_json", R.Malformed, x => x.Sign(x.HeaderJson, "not json"));
        Token("payload_json_array", R.Malformed, x => x.Sign(x.HeaderJson, "[" + x.PayloadJson + "]"));
        Token("payload_json_null", R.Malformed, x => x.Sign(x.HeaderJson, "null"));
        Token("header_invalid_utf8", R.Malformed, x => x.SignBytes(InvalidUtf8(x.HeaderJson[..^1] + ",\"x\":\"", "\"}"), Encoding.UTF8.GetBytes(x.PayloadJson)));
        Token("payload_invalid_utf8_in_extra_claim", R.Malformed, x => x.SignBytes(Encoding.UTF8.GetBytes(x.HeaderJson), InvalidUtf8(x.PayloadJson[..^1] + ",\"note\":\"", "\"}")));
        Token("payload_invalid_utf8_in_subject", R.Malformed, x => x.SignBytes(Encoding.UTF8.GetBytes(x.HeaderJson), InvalidUtf8(x.PayloadJson[..^2], "\"}")));
        Token("payload_overlong_utf8", R.Malformed, x => x.SignBytes(Encoding.UTF8.GetBytes(x.HeaderJson), [.. Encoding.UTF8.GetBytes(x.PayloadJson[..^1] + ",\"note\":\""), 0xC0, 0xAF, .. "\"}"u8.ToArray()]));
        Token("payload_lone_surrogate_utf8", R.Malformed, x => x.SignBytes(Encoding.UTF8.GetBytes(x.HeaderJson), [.. Encoding.UTF8.GetBytes(x.PayloadJson[..^1] + ",\"note\":\""), 0xED, 0xA0, 0x80, .. "\"}"u8.ToArray()]));
        Token("header_trailing_garbage", R.Malformed, x => x.WithHeader(x.HeaderJson + "x"));
        Token("payload_trailing_garbage", R.Malformed, x => x.Sign(x.HeaderJson, x.PayloadJson + "{}"));
        Token("payload_with_comment", R.Malformed, x => x.WithPayload(p => "/* c */" + p));
        Token("payload_trailing_comma", R.Malformed, x => x.WithPayload(p => p[..^1] + ",}"));
        Token("payload_single_quotes", R.Malformed, x => x.WithPayload(p => p.Replace("\"jti\"", "'jti'", StringComparison.Ordinal)));
        Token("duplicate_alg", R.Malformed, x => x.WithHeader($"{{\"alg\":\"none\",\"kid\":\"{Kid(x)}\",\"alg\":\"RS256\"}}"));
        Token("duplicate_kid", R.Malformed, x => x.WithHeader($"{{\"alg\":\"RS256\",\"kid\":\"other\",\"kid\":\"{Kid(x)}\"}}"));
        Token("duplicate_header_extension", R.Malformed, x => x.WithHeader($"{{\"alg\":\"RS256\",\"kid\":\"{Kid(x)}\",\"x\":1,\"x\":2}}"));
        Token("duplicate_sub", R.Malformed, x => x.WithPayload(p => p.Replace("\"sub\":", "\"sub\":\"system:serviceaccount:kube-system:admin\",\"sub\":", StringComparison.Ordinal)));
        Token("duplicate_iss", R.Malformed, x => x.WithPayload(p => p.Replace("\"iss\":", "\"iss\":\"https://evil.example\",\"iss\":", StringComparison.Ordinal)));
        Token("duplicate_aud", R.Malformed, x => x.WithPayload(p => p.Replace("\"aud\":", "\"aud\":[\"other\"],\"aud\":", StringComparison.Ordinal)));
        Token("duplicate_exp", R.Malformed, x => x.WithPayload(p => p.Replace("\"exp\":", $"\"exp\":{T + 999999},\"exp\":", StringComparison.Ordinal)));
        Token("duplicate_kubernetes_io", R.Malformed, x => x.WithPayload(p => p.Replace("\"kubernetes.io\":", "\"kubernetes.io\":{},\"kubernetes.io\":", StringComparison.Ordinal)));
        Token("duplicate_namespace_inside_kubernetes_io", R.Malformed, x => x.WithPayload(p => p.Replace("\"namespace\":", "\"namespace\":\"kube-system\",\"namespace\":", StringComparison.Ordinal)));
        Token("duplicate_extra_claim", R.Malformed, x => x.WithPayload(p => p[..^1] + ",\"x\":1,\"x\":2}"));
        Token("deep_nesting_array", R.Malformed, x => x.WithPayload(p => p[..^1] + ",\"x\":" + new string('[', 5000) + new string(']', 5000) + "}"));
        Token("deep_nesting_object", R.Malformed, x => x.WithPayload(p => p[..^1] + ",\"x\":" + string.Concat(Enumerable.Repeat("{\"a\":", 20)) + "1" + new string('}', 20) + "}"));

        // Numbers: JSON integers within NumericDate range only.
        Token("exp_as_string", R.Malformed, x => x.WithClaims(p => p["exp"] = (T + 3600).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Token("exp_as_float", R.Malformed, x => x.WithPayload(p => p.Replace($"\"exp\":{T + 3600}", $"\"exp\":{T + 3600}.5", StringComparison.Ordinal)));
        Token("exp_as_float_zero_fraction", R.Malformed, x => x.WithPayload(p => p.Replace($"\"exp\":{T + 3600}", $"\"exp\":{T + 3600}.0", StringComparison.Ordinal)));
        Token("exp_with_exponent", R.Malformed, x => x.WithPayload(p => p.Replace($"\"exp\":{T + 3600}", "\"exp\":1.8e9", StringComparison.Ordinal)));
        Token("exp_huge", R.Malformed, x => x.WithPayload(p => p.Replace($"\"exp\":{T + 3600}", "\"exp\":99999999999999999999999999", StringComparison.Ordinal)));
        Token("exp_1e400", R.Malformed, x => x.WithPayload(p => p.Replace($"\"exp\":{T + 3600}", "\"exp\":1e400", StringComparison.Ordinal)));
        Token("exp_beyond_year_9999", R.Malformed, x => x.WithClaims(p => p["exp"] = 253402300800));
        Token("exp_negative", R.Malformed, x => x.WithClaims(p => p["exp"] = -1));
        Token("exp_boolean", R.Malformed, x => x.WithClaims(p => p["exp"] = true));
        Token("exp_null", R.MissingExpiration, x => x.WithClaims(p => p["exp"] = null));
        Token("iat_as_string", R.Malformed, x => x.WithClaims(p => p["iat"] = T.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Token("nbf_as_float", R.Malformed, x => x.WithPayload(p => p.Replace($"\"nbf\":{T}", $"\"nbf\":{T}.25", StringComparison.Ordinal)));
        Token("warnafter_as_string", R.Malformed, x => x.WithClaims(p => p["kubernetes.io"]!["warnafter"] = "soon"));
        Token("warnafter_negative", R.Malformed, x => x.WithClaims(p => p["kubernetes.io"]!["warnafter"] = -5));

        // Claims.
        Token("sub_missing", R.InvalidSubject, x => x.WithClaims(p => p.Remove("sub")));
        Token("sub_other_service_account", R.InvalidSubject, x => x.WithClaims(p => p["sub"] = "system:serviceaccount:my-namespace:admin"));
        Token("sub_other_namespace", R.InvalidSubject, x => x.WithClaims(p => p["sub"] = "system:serviceaccount:kube-system:my-service-account"));
        Token("sub_trailing_colon", R.InvalidSubject, x => x.WithClaims(p => p["sub"] = "system:serviceaccount:my-namespace:my-service-account:"));
        Token("sub_upper_case", R.InvalidSubject, x => x.WithClaims(p => p["sub"] = "SYSTEM:SERVICEACCOUNT:my-namespace:my-service-account"));
        Token("sub_as_number", R.Malformed, x => x.WithClaims(p => p["sub"] = 1));
        // Issue 11 §6: an 8000-character namespace is no DNS-1123 label, refused before 'sub' is compared.
        Token("huge_namespace_with_mismatched_sub", R.InvalidClaims, x => x.WithClaims(p => p["kubernetes.io"]!["namespace"] = new string('n', 8000)));
        Token("huge_namespace_with_matching_sub", R.InvalidClaims, x => x.WithClaims(p =>
        {
            p["kubernetes.io"]!["namespace"] = new string('n', 5000);
            p["sub"] = "system:serviceaccount:" + new string('n', 5000) + ":my-service-account";
        }));
        Token("namespace_with_colon_and_matching_sub", R.InvalidClaims, x => x.WithClaims(p =>
        {
            p["kubernetes.io"]!["namespace"] = "my-namespace:admin";
            p["sub"] = "system:serviceaccount:my-namespace:admin:my-service-account";
        }));
        Token("kubernetes_io_missing", R.NotServiceAccountToken, x => x.WithClaims(p => p.Remove("kubernetes.io")));
        Token("kubernetes_io_string", R.Malformed, x => x.WithClaims(p => p["kubernetes.io"] = "my-namespace"));
        Token("kubernetes_io_array", R.Malformed, x => x.WithClaims(p => p["kubernetes.io"] = new JsonArray()));
        Token("namespace_missing", R.MissingClaim, x => x.WithClaims(p => p["kubernetes.io"]!.AsObject().Remove("namespace")));
        Token("namespace_empty", R.MissingClaim, x => x.WithClaims(p => p["kubernetes.io"]!["namespace"] = string.Empty));
        Token("serviceaccount_missing", R.MissingClaim, x => x.WithClaims(p => p["kubernetes.io"]!.AsObject().Remove("serviceaccount")));
        Token("serviceaccount_uid_missing", R.MissingClaim, x => x.WithClaims(p => p["kubernetes.io"]!["serviceaccount"]!.AsObject().Remove("uid")));
        Token("iss_wrong", R.InvalidIssuer, x => x.WithClaims(p => p["iss"] = "https://evil.example"));
        Token("iss_trailing_slash", R.InvalidIssuer, x => x.WithClaims(p => p["iss"] = x.Issuer.Issuer + "/"));
        Token("iss_upper_case", R.InvalidIssuer, x => x.WithClaims(p => p["iss"] = x.Issuer.Issuer.ToUpperInvariant()));
        Token("iss_missing", R.InvalidIssuer, x => x.WithClaims(p => p.Remove("iss")));
        Token("iss_huge", R.InvalidIssuer, x => x.WithClaims(p => p["iss"] = "https://" + new string('i', 8000)));
        Token("aud_wrong", R.InvalidAudience, x => x.WithClaims(p => p["aud"] = new JsonArray("other-api")));
        Token("aud_missing", R.InvalidAudience, x => x.WithClaims(p => p.Remove("aud")));
        Token("aud_empty_array", R.InvalidAudience, x => x.WithClaims(p => p["aud"] = new JsonArray()));
        Token("aud_number", R.Malformed, x => x.WithClaims(p => p["aud"] = 1));
        Token("aud_array_with_number", R.Malformed, x => x.WithClaims(p => p["aud"] = new JsonArray("my-api", 1)));
        Token("aud_upper_case", R.InvalidAudience, x => x.WithClaims(p => p["aud"] = new JsonArray("MY-API")));
        Token("aud_trailing_space", R.InvalidAudience, x => x.WithClaims(p => p["aud"] = new JsonArray("my-api ")));
        Token("aud_huge_list", R.InvalidAudience, x => x.WithClaims(p => p["aud"] = new JsonArray([.. Enumerable.Range(0, 200).Select(i => (JsonNode)JsonValue.Create(new string('a', 40) + i))])));
        Token("exp_missing", R.MissingExpiration, x => x.WithClaims(p => p.Remove("exp")));
        Token("expired_one_second_past_skew", R.Expired, x => x.WithClaims(p => p["exp"] = T - 61));
        Token("expired_long_ago", R.Expired, x => x.WithClaims(p =>
        {
            p["exp"] = T - 86400;
            p["iat"] = T - 90000;
            p["nbf"] = T - 90000;
        }));
        Token("not_yet_valid_one_second_past_skew", R.NotYetValid, x => x.WithClaims(p => p["nbf"] = T + 61));
        Token("issued_in_the_future_past_skew", R.NotYetValid, x => x.WithClaims(p => p["iat"] = T + 61));
        Token("past_warnafter", R.Expired, x => x.WithClaims(p => p["kubernetes.io"]!["warnafter"] = T - 61));
        Token("legacy_token_when_not_accepted", R.LegacyTokenRefused, x => x.Issuer.CreateToken("my-namespace", "my-service-account").Legacy().Build());
        Token("plain_oidc_token", R.NotServiceAccountToken, x => x.Sign(x.HeaderJson, $"{{\"iss\":\"{x.Issuer.Issuer}\",\"sub\":\"alice\",\"aud\":\"my-api\",\"exp\":{T + 60}}}"));

        // Size.
        Token("oversize_token", R.TooLarge, x => Replace(x.Valid(), 1, s => s + new string('A', 17 * 1024)));
        Token("oversize_header_segment", R.TooLarge, x => HostileTokenFixture.B64(new string(' ', 14 * 1024)) + "." + x.Valid().Split('.', 2)[1]);

        // Authorization headers.
        Header("two_authorization_headers", R.InvalidAuthorizationHeader, x => r =>
        {
            var token = x.Valid();
            r.Headers.TryAddWithoutValidation("Authorization", ["Bearer " + token, "Bearer " + token]);
        });
        Header("bearer_without_token", R.InvalidAuthorizationHeader, _ => r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer"));
        Header("bearer_with_only_spaces", R.InvalidAuthorizationHeader, _ => r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer    "));
        Header("bearer_two_tokens", R.InvalidAuthorizationHeader, x => r => r.Headers.TryAddWithoutValidation("Authorization", $"Bearer {x.Valid()} {x.Valid()}"));
        Header("bearer_comma_separated_tokens", R.InvalidAuthorizationHeader, x => r => r.Headers.TryAddWithoutValidation("Authorization", $"Bearer {x.Valid()},{x.Valid()}"));
        Header("bearer_tab_inside_token", R.InvalidAuthorizationHeader, x => r => r.Headers.TryAddWithoutValidation("Authorization", $"Bearer {x.Valid()[..20]}\t{x.Valid()[20..]}"));
        Header("bearer_bearer", R.InvalidAuthorizationHeader, x => r => r.Headers.TryAddWithoutValidation("Authorization", $"Bearer Bearer {x.Valid()}"));
        Header("bearer_garbage", R.Malformed, _ => r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer !!!!"));
        Header("bearer_quoted_token", R.Malformed, x => r => r.Headers.TryAddWithoutValidation("Authorization", $"Bearer \"{x.Valid()}\""));
        return cases;
    }

    private static string SignatureOf(string token) => token[(token.LastIndexOf('.') + 1)..];

    private static string Resign(string token, byte[] signature) => token[..(token.LastIndexOf('.') + 1)] + Base64UrlEncoder.Encode(signature);

    private static string Garble(string token)
    {
        var chars = token.ToCharArray();
        var i = token.LastIndexOf('.') + 20;
        chars[i] = chars[i] == 'A' ? 'B' : 'A';
        return new string(chars);
    }

    private static string Replace(string token, int segment, Func<string, string> edit)
    {
        var parts = token.Split('.');
        parts[segment] = edit(parts[segment]);
        return string.Join('.', parts);
    }

    private static string Swap(string token, Func<string, string> editPayload) =>
        Replace(token, 1, s => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(editPayload(Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(s))))));

    private static byte[] InvalidUtf8(string before, string after) => [.. Encoding.UTF8.GetBytes(before), 0xFF, 0xFE, .. Encoding.UTF8.GetBytes(after)];
}
