// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Testing;

/// <summary>A signing key of a <see cref="KubernetesTestIssuer"/>: an RSA 2048 (RS256) or ECDSA (ES256/384/512) key pair.</summary>
public sealed class TestSigningKey
{
    private TestSigningKey(string keyId, string algorithm, AsymmetricSecurityKey key, JsonObject publicJwk)
    {
        KeyId = keyId;
        Algorithm = algorithm;
        SecurityKey = key;
        PublicJwk = publicJwk;
    }

    /// <summary>The key id, as Kubernetes computes it: the base64url SHA-256 of the public key's DER (SPKI).</summary>
    public string KeyId { get; }

    /// <summary>The JWS algorithm: <c>RS256</c>, <c>ES256</c>, <c>ES384</c> or <c>ES512</c>.</summary>
    public string Algorithm { get; }

    /// <summary>The private key, for signing.</summary>
    public AsymmetricSecurityKey SecurityKey { get; }

    /// <summary>The public JWK as the API server publishes it (<c>use</c>, <c>kty</c>, <c>kid</c>, <c>alg</c>, parameters).</summary>
    public JsonObject PublicJwk { get; }

    /// <summary>Creates a key.</summary>
    /// <param name="algorithm">The JWS algorithm; default RS256.</param>
    /// <param name="keyId">The key id; default the Kubernetes-style SPKI hash.</param>
    /// <returns>The key.</returns>
    public static TestSigningKey Create(string algorithm = SecurityAlgorithms.RsaSha256, string? keyId = null)
    {
        switch (algorithm)
        {
            case SecurityAlgorithms.RsaSha256:
            {
                var rsa = RSA.Create(2048);
                var kid = keyId ?? Base64UrlEncoder.Encode(SHA256.HashData(rsa.ExportSubjectPublicKeyInfo()));
                var p = rsa.ExportParameters(false);
                var jwk = new JsonObject
                {
                    ["use"] = "sig",
                    ["kty"] = "RSA",
                    ["kid"] = kid,
                    ["alg"] = algorithm,
                    ["n"] = Base64UrlEncoder.Encode(p.Modulus),
                    ["e"] = Base64UrlEncoder.Encode(p.Exponent),
                };
                return new TestSigningKey(kid, algorithm, new RsaSecurityKey(rsa) { KeyId = kid }, jwk);
            }

            case SecurityAlgorithms.EcdsaSha256:
            case SecurityAlgorithms.EcdsaSha384:
            case SecurityAlgorithms.EcdsaSha512:
            {
                var (curve, crv) = algorithm switch
                {
                    SecurityAlgorithms.EcdsaSha256 => (ECCurve.NamedCurves.nistP256, "P-256"),
                    SecurityAlgorithms.EcdsaSha384 => (ECCurve.NamedCurves.nistP384, "P-384"),
                    _ => (ECCurve.NamedCurves.nistP521, "P-521"),
                };
                var ecdsa = ECDsa.Create(curve);
                var kid = keyId ?? Base64UrlEncoder.Encode(SHA256.HashData(ecdsa.ExportSubjectPublicKeyInfo()));
                var p = ecdsa.ExportParameters(false);
                var jwk = new JsonObject
                {
                    ["use"] = "sig",
                    ["kty"] = "EC",
                    ["kid"] = kid,
                    ["alg"] = algorithm,
                    ["crv"] = crv,
                    ["x"] = Base64UrlEncoder.Encode(p.Q.X),
                    ["y"] = Base64UrlEncoder.Encode(p.Q.Y),
                };
                return new TestSigningKey(kid, algorithm, new ECDsaSecurityKey(ecdsa) { KeyId = kid }, jwk);
            }

            default:
                throw new ArgumentException($"Algorithm '{algorithm}' is not one Kubernetes signs with (RS256, ES256, ES384, ES512).", nameof(algorithm));
        }
    }
}
