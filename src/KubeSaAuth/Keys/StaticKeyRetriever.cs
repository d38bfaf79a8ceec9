// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Keys;

/// <summary>The keys given in code (<c>SigningKeys</c>): returned once, unchanged ever after. Never touches the network.</summary>
internal sealed class StaticKeyRetriever(IReadOnlyList<JsonWebKey> keys) : IKeySetRetriever
{
    public const string SourceName = "the SigningKeys option";

    private int _returned;

    public string Address => SourceName;

    public KeySourceKind Kind => KeySourceKind.Static;

    public Task<RetrievedKeys?> RetrieveAsync(CancellationToken cancellationToken) =>
        Task.FromResult(Interlocked.Exchange(ref _returned, 1) == 0 ? new RetrievedKeys(keys, null, SourceName) : null);

    /// <summary>
    /// The JWK of a key given in code: a <see cref="JsonWebKey"/> as it is; an RSA, ECDSA or X.509 key with its
    /// <c>KeyId</c>, or without one the kid Kubernetes derives. Returns <see langword="null"/> with a reason for
    /// any other key (symmetric keys above all: service-account tokens are never signed with a shared secret).
    /// </summary>
    public static JsonWebKey? ToJsonWebKey(SecurityKey key, out string? unsupportedReason)
    {
        unsupportedReason = null;
        var kid = string.IsNullOrEmpty(key.KeyId) ? null : key.KeyId;
        switch (key)
        {
            case JsonWebKey jwk when jwk.Kty is JsonWebAlgorithmsKeyTypes.RSA or JsonWebAlgorithmsKeyTypes.EllipticCurve:
                return jwk;

            case RsaSecurityKey rsaKey:
                if (rsaKey.Rsa is { } rsa)
                {
                    return KubernetesKeyId.ToJsonWebKey(rsa, kid, out unsupportedReason);
                }

                using (var fromParameters = RSA.Create())
                {
                    fromParameters.ImportParameters(new RSAParameters { Modulus = rsaKey.Parameters.Modulus, Exponent = rsaKey.Parameters.Exponent });
                    return KubernetesKeyId.ToJsonWebKey(fromParameters, kid, out unsupportedReason);
                }

            case ECDsaSecurityKey ecKey:
                return KubernetesKeyId.ToJsonWebKey(ecKey.ECDsa, kid, out unsupportedReason);

            case X509SecurityKey x509Key:
                using (var publicKey = (AsymmetricAlgorithm?)x509Key.Certificate.GetRSAPublicKey() ?? x509Key.Certificate.GetECDsaPublicKey())
                {
                    if (publicKey is null)
                    {
                        unsupportedReason = "an X.509 certificate whose key is neither RSA nor EC";
                        return null;
                    }

                    // X509SecurityKey's KeyId defaults to the certificate's thumbprint, never a Kubernetes kid.
                    return KubernetesKeyId.ToJsonWebKey(publicKey, kid is null || kid == x509Key.X5t || kid == x509Key.Certificate.Thumbprint ? null : kid, out unsupportedReason);
                }

            case SymmetricSecurityKey:
                unsupportedReason = "a symmetric key; service-account tokens are signed with RSA or ECDSA, never a shared secret";
                return null;

            default:
                unsupportedReason = $"a {key.GetType().Name}; give an RsaSecurityKey, ECDsaSecurityKey, X509SecurityKey or an RSA/EC JsonWebKey";
                return null;
        }
    }
}
