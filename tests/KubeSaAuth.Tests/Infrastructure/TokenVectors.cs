// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>
/// The public Kubernetes token vectors, read where they lie in the repository:
/// <c>tests/KubeSaAuth.Tests/Vectors/kubernetes-token-vectors.json</c> (sources and licences in the NOTICE.md
/// beside it). A clone has them, so no vector test is ever skipped.
/// </summary>
internal static class TokenVectors
{
    public const string FileName = "kubernetes-token-vectors.json";

    private static readonly Lazy<JsonObject> LazyDocument = new(() => JsonNode.Parse(File.ReadAllText(Path))!.AsObject());

    /// <summary>The vectors file in the repository's test folder.</summary>
    public static string Path => System.IO.Path.Combine(
        RepositoryRoot.Path ?? throw new InvalidOperationException("The test binaries do not sit below the repository (no KubeSaAuth.sln above them)."),
        "tests", "KubeSaAuth.Tests", "Vectors", FileName);

    public static JsonObject Document => LazyDocument.Value;

    public static JsonObject Section(string name) => Document[name]!.AsObject();

    public static string Token(string section, string name) => Section(section)[name]!["token"]!.GetValue<string>();

    /// <summary>The JWKS of the Kubernetes unit-test keys (verbatim_k8s_discovery_and_jwks.jwks_raw).</summary>
    public static string K8sJwks => Section("verbatim_k8s_discovery_and_jwks")["jwks_raw"]!.GetValue<string>();

    /// <summary>A one-key JWKS from a PEM public key or certificate, with an optional kid and alg.</summary>
    public static string JwksFromPem(string pem, string? kid, string? alg)
    {
        AsymmetricAlgorithm key;
        if (pem.Contains("CERTIFICATE", StringComparison.Ordinal))
        {
            using var cert = X509Certificate2.CreateFromPem(pem);
            key = (AsymmetricAlgorithm?)cert.GetRSAPublicKey() ?? cert.GetECDsaPublicKey()!;
        }
        else if (pem.Contains("MHYw", StringComparison.Ordinal) || pem.Contains("MFkw", StringComparison.Ordinal) || pem.Contains("MIGb", StringComparison.Ordinal))
        {
            var ec = ECDsa.Create();
            ec.ImportFromPem(pem);
            key = ec;
        }
        else
        {
            var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            key = rsa;
        }

        var jwk = new JsonObject { ["use"] = "sig" };
        if (kid is not null)
        {
            jwk["kid"] = kid;
        }

        if (alg is not null)
        {
            jwk["alg"] = alg;
        }

        using (key)
        {
            if (key is RSA r)
            {
                var p = r.ExportParameters(false);
                jwk["kty"] = "RSA";
                jwk["n"] = Base64UrlEncoder.Encode(p.Modulus);
                jwk["e"] = Base64UrlEncoder.Encode(p.Exponent);
            }
            else
            {
                var p = ((ECDsa)key).ExportParameters(false);
                jwk["kty"] = "EC";
                jwk["crv"] = p.Q.X!.Length switch { 32 => "P-256", 48 => "P-384", _ => "P-521" };
                jwk["x"] = Base64UrlEncoder.Encode(p.Q.X);
                jwk["y"] = Base64UrlEncoder.Encode(p.Q.Y);
            }
        }

        return new JsonObject { ["keys"] = new JsonArray(jwk) }.ToJsonString();
    }

    /// <summary>A time inside the token's lifetime (its iat, else exp − 1 min, else now) for a fixed clock.</summary>
    public static DateTimeOffset InsideLifetime(string token)
    {
        var payload = JsonNode.Parse(Base64UrlEncoder.Decode(token.Split('.')[1]))!;
        if (payload["iat"] is { } iat)
        {
            return DateTimeOffset.FromUnixTimeSeconds(iat.GetValue<long>()).AddSeconds(30);
        }

        return payload["exp"] is { } exp ? DateTimeOffset.FromUnixTimeSeconds(exp.GetValue<long>()).AddMinutes(-1) : new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    }
}
