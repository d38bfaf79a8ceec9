// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Keys;

/// <summary>
/// The keys of a file (<c>JwksPath</c>): a JWKS, as <c>kubectl get --raw /openid/v1/jwks</c> prints it, or
/// PEM public keys, as the API server's <c>--service-account-key-file</c> holds them. Read again on every
/// call (every <c>RefreshInterval</c>, and on an unknown <c>kid</c>); the content's hash tells whether it
/// changed, so a rewritten file, a replaced one or a ConfigMap's symlink swap are all seen, whatever their
/// timestamps say. Never touches the network.
/// </summary>
internal sealed class KeyFileRetriever(string path) : IKeySetRetriever
{
    private byte[]? _appliedHash;

    public string Address => path;

    public KeySourceKind Kind => KeySourceKind.File;

    /// <remarks>Called by one fetch at a time (the key source's single flight).</remarks>
    public async Task<RetrievedKeys?> RetrieveAsync(CancellationToken cancellationToken)
    {
        var content = await ReadAsync(cancellationToken).ConfigureAwait(false);
        var hash = SHA256.HashData(content);
        if (_appliedHash is not null && CryptographicOperations.FixedTimeEquals(hash, _appliedHash))
        {
            return null;
        }

        var keys = Parse(content, path);
        _appliedHash = hash;
        return new RetrievedKeys(keys, null, path);
    }

    /// <summary>Reads the keys of a JWKS or PEM document; throws <see cref="KeyFetchException"/> naming what is wrong.</summary>
    internal static IReadOnlyList<JsonWebKey> Parse(byte[] content, string path)
    {
        string text;
        try
        {
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(content).TrimStart('\uFEFF', ' ', '\t', '\r', '\n');
        }
        catch (DecoderFallbackException ex)
        {
            throw Unusable(path, "it is not UTF-8 text (a DER file? convert it: openssl pkey -pubin -inform DER -in key.der -out key.pem)", ex);
        }

        if (text.StartsWith('{'))
        {
            return ParseJwks(text, path);
        }

        if (text.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            return ParsePem(text, path);
        }

        throw Unusable(path, text.Length == 0
            ? "it is empty"
            : "it is neither a JWKS (JSON with 'keys', as 'kubectl get --raw /openid/v1/jwks' prints it) nor PEM public keys ('-----BEGIN PUBLIC KEY-----')");
    }

    private static List<JsonWebKey> ParseJwks(string json, string path)
    {
        try
        {
            using (var document = JsonDocument.Parse(json))
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object
                    || !document.RootElement.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
                {
                    throw Unusable(path, "it is JSON without a 'keys' array: not a JWKS (the discovery document? the JWKS is what 'kubectl get --raw /openid/v1/jwks' prints)");
                }
            }

            return [.. new JsonWebKeySet(json).Keys];
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException)
        {
            throw Unusable(path, $"it is not a valid JSON Web Key Set ({ex.GetType().Name}: {ex.Message})", ex);
        }
    }

    /// <summary>
    /// k8s client-go util/keyutil ParsePublicKeysPEM: every RSA or EC public key block, in order; other
    /// blocks (certificates, EC parameters) are passed over. Unlike the API server, a private key is refused:
    /// a service that verifies tokens has no business holding the key that signs them.
    /// </summary>
    private static List<JsonWebKey> ParsePem(string text, string path)
    {
        var keys = new List<JsonWebKey>();
        var rest = text.AsSpan();
        var block = 0;
        while (PemEncoding.TryFind(rest, out var fields))
        {
            block++;
            var label = rest[fields.Label].ToString();
            var der = Convert.FromBase64String(rest[fields.Base64Data].ToString());
            rest = rest[fields.Location.End.Value..];
            if (label.Contains("PRIVATE KEY", StringComparison.Ordinal))
            {
                throw Unusable(path, $"PEM block {block} is a private key ({label}); give the public key only (openssl pkey -in sa.key -pubout -out sa.pub)");
            }

            AsymmetricAlgorithm? key = label switch
            {
                "PUBLIC KEY" => ImportSubjectPublicKeyInfo(der, path, block),
                "RSA PUBLIC KEY" => ImportRsaPublicKey(der, path, block),
                _ => null,
            };
            if (key is null)
            {
                continue;
            }

            using (key)
            {
                var jwk = KubernetesKeyId.ToJsonWebKey(key, kid: null, out var unsupported)
                    ?? throw Unusable(path, $"PEM block {block} is {unsupported}");
                keys.Add(jwk);
            }
        }

        if (keys.Count == 0)
        {
            throw Unusable(path, "it holds no PEM public key ('-----BEGIN PUBLIC KEY-----' or '-----BEGIN RSA PUBLIC KEY-----' with valid base64)");
        }

        return keys;
    }

    private static AsymmetricAlgorithm ImportSubjectPublicKeyInfo(byte[] der, string path, int block)
    {
        var rsa = RSA.Create();
        try
        {
            rsa.ImportSubjectPublicKeyInfo(der, out _);
            return rsa;
        }
        catch (CryptographicException)
        {
            rsa.Dispose();
        }

        var ecdsa = ECDsa.Create();
        try
        {
            ecdsa.ImportSubjectPublicKeyInfo(der, out _);
            return ecdsa;
        }
        catch (CryptographicException ex)
        {
            ecdsa.Dispose();
            throw Unusable(path, $"PEM block {block} (PUBLIC KEY) is neither an RSA nor an EC public key", ex);
        }
    }

    private static RSA ImportRsaPublicKey(byte[] der, string path, int block)
    {
        var rsa = RSA.Create();
        try
        {
            rsa.ImportRSAPublicKey(der, out _);
            return rsa;
        }
        catch (CryptographicException ex)
        {
            rsa.Dispose();
            throw Unusable(path, $"PEM block {block} (RSA PUBLIC KEY) is not a valid PKCS#1 RSA public key", ex);
        }
    }

    private async Task<byte[]> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1, useAsync: true);
            await using (stream.ConfigureAwait(false))
            {
                if (stream.Length > KeySetRetriever.MaxDocumentBytes)
                {
                    throw Unusable(path, $"it is larger than {KeySetRetriever.MaxDocumentBytes} bytes");
                }

                var buffer = new MemoryStream();
                await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (buffer.Length > KeySetRetriever.MaxDocumentBytes)
                {
                    throw Unusable(path, $"it is larger than {KeySetRetriever.MaxDocumentBytes} bytes");
                }

                return buffer.ToArray();
            }
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw Unusable(path, "the file does not exist", ex);
        }
        catch (UnauthorizedAccessException ex) when (Directory.Exists(path))
        {
            throw Unusable(path, "it is a directory, not a file (mounted a ConfigMap? name the key's file inside it)", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw Unusable(path, $"the file cannot be read: access denied ({ex.Message})", ex);
        }
        catch (IOException ex)
        {
            throw Unusable(path, $"the file cannot be read: {ex.Message}", ex);
        }
    }

    private static KeyFetchException Unusable(string path, string reason, Exception? inner = null) =>
        new(path, null, reason, inner);
}
