// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Keys;

/// <summary>A verification key of the issuer, converted once when the key set is fetched.</summary>
internal sealed class SigningKey
{
    private SigningKey(string? keyId, string? algorithm, SecurityKey key, string? curve, string fingerprint)
    {
        KeyId = keyId;
        Algorithm = algorithm;
        Key = key;
        Curve = curve;
        Fingerprint = fingerprint;
    }

    /// <summary>The JWK's <c>kid</c>, if any.</summary>
    public string? KeyId { get; }

    /// <summary>The JWK's <c>alg</c>, if any: when set, the only algorithm this key verifies.</summary>
    public string? Algorithm { get; }

    /// <summary>The IdentityModel key; its <c>CryptoProviderFactory</c> caches the signature providers.</summary>
    public SecurityKey Key { get; }

    /// <summary>The curve of an EC key (<c>P-256</c>, <c>P-384</c>, <c>P-521</c>); <see langword="null"/> for RSA.</summary>
    public string? Curve { get; }

    /// <summary>The key's identity for comparing key sets: kid, alg and public parameters.</summary>
    public string Fingerprint { get; }

    private SignatureProvider? _verifier;

    /// <summary>
    /// IdentityModel's signature provider for <paramref name="algorithm"/>, created once per key and kept
    /// for the life of the key set (a key verifies one algorithm: <see cref="Accepts"/> ties RSA to RS256
    /// and each curve to its ES algorithm). Asymmetric providers are safe for concurrent verification.
    /// Avoids <c>CryptoProviderFactory.CreateForVerifying</c>'s per-call cache-key string and lookup.
    /// </summary>
    public SignatureProvider GetVerifier(string algorithm)
    {
        var verifier = Volatile.Read(ref _verifier);
        if (verifier is not null && string.Equals(verifier.Algorithm, algorithm, StringComparison.Ordinal))
        {
            return verifier;
        }

        // Not cached by the factory: this instance is the cache, and lives as long as the key.
        var created = Key.CryptoProviderFactory.CreateForVerifying(Key, algorithm, cacheProvider: false);
        Interlocked.CompareExchange(ref _verifier, created, verifier);
        return created;
    }

    /// <summary>Whether this key may verify a token signed with <paramref name="algorithm"/> (RFC 7518 §3.1, RFC 7517 §4.4).</summary>
    public bool Accepts(string algorithm)
    {
        if (Algorithm is not null && !string.Equals(Algorithm, algorithm, StringComparison.Ordinal))
        {
            return false;
        }

        return algorithm switch
        {
            SecurityAlgorithms.RsaSha256 => Curve is null,
            SecurityAlgorithms.EcdsaSha256 => Curve == JsonWebKeyECTypes.P256,
            SecurityAlgorithms.EcdsaSha384 => Curve == JsonWebKeyECTypes.P384,
            SecurityAlgorithms.EcdsaSha512 => Curve == JsonWebKeyECTypes.P521,
            _ => false,
        };
    }

    /// <summary>RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used with these algorithms" (RS256).</summary>
    public const int MinimumRsaKeySizeInBits = 2048;

    /// <summary>Converts a JWK; returns <see langword="null"/> with a reason for keys that cannot verify service-account tokens.</summary>
    public static SigningKey? TryCreate(JsonWebKey jwk, out string? skipReason) => TryCreate(jwk, out skipReason, out _);

    /// <summary>
    /// Converts a JWK; returns <see langword="null"/> with a reason for keys that cannot verify service-account
    /// tokens. <paramref name="weakRsaKeySize"/> is the modulus size in bits of an RSA key refused for being
    /// under <see cref="MinimumRsaKeySizeInBits"/>, else 0.
    /// </summary>
    public static SigningKey? TryCreate(JsonWebKey jwk, out string? skipReason, out int weakRsaKeySize)
    {
        skipReason = null;
        weakRsaKeySize = 0;
        if (!string.IsNullOrEmpty(jwk.Use) && !string.Equals(jwk.Use, JsonWebKeyUseNames.Sig, StringComparison.Ordinal))
        {
            skipReason = $"use is '{jwk.Use}', not 'sig'";
            return null;
        }

        var kid = string.IsNullOrEmpty(jwk.Kid) ? null : jwk.Kid;
        var alg = string.IsNullOrEmpty(jwk.Alg) ? null : jwk.Alg;
        try
        {
            switch (jwk.Kty)
            {
                case JsonWebAlgorithmsKeyTypes.RSA:
                    if (string.IsNullOrEmpty(jwk.N) || string.IsNullOrEmpty(jwk.E))
                    {
                        skipReason = "RSA key without 'n' or 'e'";
                        return null;
                    }

                    var rsa = new RSAParameters { Modulus = Base64UrlEncoder.DecodeBytes(jwk.N), Exponent = Base64UrlEncoder.DecodeBytes(jwk.E) };

                    // RFC 7518 §3.3: a 512-bit modulus is factored in hours on rented hardware, 1024 bits is
                    // within reach of a state; a token it signs proves nothing.
                    var bits = ModulusBits(rsa.Modulus);
                    if (bits < MinimumRsaKeySizeInBits)
                    {
                        weakRsaKeySize = bits;
                        skipReason = $"RSA key of {bits} bits, under the {MinimumRsaKeySizeInBits} bits RFC 7518 §3.3 requires; tokens signed with it are refused";
                        return null;
                    }

                    var rsaKey = new RsaSecurityKey(rsa) { KeyId = kid };
                    return new SigningKey(kid, alg, rsaKey, null, $"RSA|{kid}|{alg}|{jwk.N}|{jwk.E}");

                case JsonWebAlgorithmsKeyTypes.EllipticCurve:
                    var curve = jwk.Crv switch
                    {
                        JsonWebKeyECTypes.P256 => ECCurve.NamedCurves.nistP256,
                        JsonWebKeyECTypes.P384 => ECCurve.NamedCurves.nistP384,
                        JsonWebKeyECTypes.P521 => ECCurve.NamedCurves.nistP521,
                        _ => (ECCurve?)null,
                    };
                    if (curve is null || string.IsNullOrEmpty(jwk.X) || string.IsNullOrEmpty(jwk.Y))
                    {
                        skipReason = $"EC key with unsupported curve '{jwk.Crv}' or without 'x'/'y'";
                        return null;
                    }

                    // ECDsa.Create checks that the point is on the curve.
                    var ecdsa = ECDsa.Create(new ECParameters
                    {
                        Curve = curve.Value,
                        Q = new ECPoint { X = Base64UrlEncoder.DecodeBytes(jwk.X), Y = Base64UrlEncoder.DecodeBytes(jwk.Y) },
                    });
                    var ecKey = new ECDsaSecurityKey(ecdsa) { KeyId = kid };
                    return new SigningKey(kid, alg, ecKey, jwk.Crv, $"EC|{kid}|{alg}|{jwk.Crv}|{jwk.X}|{jwk.Y}");

                default:
                    skipReason = $"key type '{jwk.Kty}' is not RSA or EC";
                    return null;
            }
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException or ArgumentException)
        {
            skipReason = $"key material is invalid ({ex.GetType().Name})";
            return null;
        }
    }

    /// <summary>The size of an RSA modulus in bits: its big-endian bytes without leading zeros.</summary>
    internal static int ModulusBits(ReadOnlySpan<byte> modulus)
    {
        var start = modulus.IndexOfAnyExcept((byte)0);
        if (start < 0)
        {
            return 0;
        }

        return ((modulus.Length - start - 1) * 8) + (32 - System.Numerics.BitOperations.LeadingZeroCount((uint)modulus[start]));
    }
}
