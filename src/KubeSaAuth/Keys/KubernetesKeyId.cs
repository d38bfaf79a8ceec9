// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Keys;

/// <summary>The <c>kid</c> Kubernetes gives a key, and a public key as the JWK the API server would publish.</summary>
internal static class KubernetesKeyId
{
    /// <summary>
    /// k8s pkg/serviceaccount/jwt.go keyIDFromPublicKey: base64url, unpadded, of the SHA-256 of the DER
    /// SubjectPublicKeyInfo (<c>x509.MarshalPKIXPublicKey</c>: rsaEncryption with NULL parameters, or
    /// id-ecPublicKey with the named curve and the uncompressed point — what .NET exports too).
    /// </summary>
    public static string FromPublicKey(AsymmetricAlgorithm key) => Base64UrlEncoder.Encode(SHA256.HashData(key.ExportSubjectPublicKeyInfo()));

    /// <summary>
    /// The JWK of an RSA or EC (P-256/384/521) public key, with <paramref name="kid"/> (or, when
    /// <see langword="null"/>, the kid Kubernetes derives) and the algorithm Kubernetes signs with
    /// (k8s pkg/serviceaccount/openidmetadata.go algorithmFromPublicKey: RS256, or ES256/384/512 by curve).
    /// Returns <see langword="null"/> with a reason for any other key.
    /// </summary>
    public static JsonWebKey? ToJsonWebKey(AsymmetricAlgorithm key, string? kid, out string? unsupportedReason)
    {
        unsupportedReason = null;
        switch (key)
        {
            case RSA rsa:
            {
                var p = rsa.ExportParameters(includePrivateParameters: false);
                return new JsonWebKey
                {
                    Kty = JsonWebAlgorithmsKeyTypes.RSA,
                    Use = JsonWebKeyUseNames.Sig,
                    Kid = kid ?? FromPublicKey(rsa),
                    Alg = SecurityAlgorithms.RsaSha256,
                    N = Base64UrlEncoder.Encode(p.Modulus),
                    E = Base64UrlEncoder.Encode(p.Exponent),
                };
            }

            case ECDsa ecdsa:
            {
                var p = ecdsa.ExportParameters(includePrivateParameters: false);
                // The OID's value, or (as some platforms export it) only its friendly name.
                var (crv, alg) = (p.Curve.Oid?.Value, p.Curve.Oid?.FriendlyName) switch
                {
                    ("1.2.840.10045.3.1.7", _) or (null, "nistP256" or "ECDSA_P256" or "secp256r1") => (JsonWebKeyECTypes.P256, SecurityAlgorithms.EcdsaSha256),
                    ("1.3.132.0.34", _) or (null, "nistP384" or "ECDSA_P384" or "secp384r1") => (JsonWebKeyECTypes.P384, SecurityAlgorithms.EcdsaSha384),
                    ("1.3.132.0.35", _) or (null, "nistP521" or "ECDSA_P521" or "secp521r1") => (JsonWebKeyECTypes.P521, SecurityAlgorithms.EcdsaSha512),
                    _ => ((string?)null, (string?)null),
                };
                if (crv is null)
                {
                    unsupportedReason = $"an EC key on curve '{p.Curve.Oid?.FriendlyName ?? p.Curve.Oid?.Value ?? "explicit parameters"}'; Kubernetes signs with P-256, P-384 or P-521";
                    return null;
                }

                return new JsonWebKey
                {
                    Kty = JsonWebAlgorithmsKeyTypes.EllipticCurve,
                    Use = JsonWebKeyUseNames.Sig,
                    Kid = kid ?? FromPublicKey(ecdsa),
                    Alg = alg,
                    Crv = crv,
                    X = Base64UrlEncoder.Encode(p.Q.X),
                    Y = Base64UrlEncoder.Encode(p.Q.Y),
                };
            }

            default:
                unsupportedReason = $"a {key.GetType().Name} key; Kubernetes signs with RSA or ECDSA";
                return null;
        }
    }
}
