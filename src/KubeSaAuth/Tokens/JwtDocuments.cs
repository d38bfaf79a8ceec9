// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text;
using System.Text.Json;

namespace KubeSaAuth.Tokens;

/// <summary>The JOSE header of a service-account token, as read by <see cref="JwtDocumentReader"/>.</summary>
internal sealed class JwtHeaderDocument
{
    public string? Algorithm { get; set; }

    public string? KeyId { get; set; }

    public string? Type { get; set; }

    /// <summary>The (unescaped) names of the members other than <c>alg</c>, <c>kid</c> and <c>typ</c>; <see langword="null"/> when there are none.</summary>
    public HashSet<string>? Other { get; set; }
}

/// <summary>The claims of a bound or legacy service-account token that the rules read.</summary>
internal sealed class JwtPayloadDocument
{
    public string? Issuer { get; set; }

    public string? Subject { get; set; }

    // RFC 7519 §4.1.3: a single string or an array of strings.
    public string[]? Audiences { get; set; }

    public long? ExpiresAt { get; set; }

    public long? NotBefore { get; set; }

    public long? IssuedAt { get; set; }

    public string? TokenId { get; set; }

    // k8s pkg/serviceaccount/claims.go: the private claim of bound tokens.
    public KubernetesClaimDocument? Kubernetes { get; set; }

    // k8s pkg/serviceaccount/legacy.go: the flat claims of secret-based tokens.
    public string? LegacyNamespace { get; set; }

    public string? LegacySecretName { get; set; }

    public string? LegacyServiceAccountName { get; set; }

    public string? LegacyServiceAccountUid { get; set; }
}

/// <summary>The <c>kubernetes.io</c> claim of a bound token.</summary>
internal sealed class KubernetesClaimDocument
{
    public string? Namespace { get; set; }

    public ObjectReferenceDocument? ServiceAccount { get; set; }

    public ObjectReferenceDocument? Pod { get; set; }

    public ObjectReferenceDocument? Node { get; set; }

    public ObjectReferenceDocument? Secret { get; set; }

    public long? WarnAfter { get; set; }
}

/// <summary>A <c>{"name","uid"}</c> reference inside the <c>kubernetes.io</c> claim.</summary>
internal sealed class ObjectReferenceDocument
{
    public string? Name { get; set; }

    public string? Uid { get; set; }
}

/// <summary>
/// Reads a JWT header or payload in one forward-only <see cref="Utf8JsonReader"/> pass, strictly: RFC 8259
/// grammar only (no comments, no trailing commas, one value, nothing after it), duplicate member names
/// refused in every object at every depth (compared unescaped: <c>"s\u0075b"</c> repeats <c>"sub"</c>;
/// RFC 7515 §4 — IdentityModel keeps the last one, we refuse the token), numbers only as JSON integers
/// that fit an <see cref="long"/> (no strings, fractions or exponents), strings where strings are
/// expected, and at most <see cref="MaxDepth"/> levels of nesting. Members the rules do not read are
/// allowed but walked, so that the same rules hold inside them.
/// </summary>
/// <remarks>
/// Violations throw <see cref="JsonException"/> (the reader's own, or ours); an invalid escape in a string
/// that is read throws <see cref="InvalidOperationException"/>. The caller checks that the whole
/// document is valid UTF-8 first: the reader does not transcode the strings it skips.
/// </remarks>
internal static class JwtDocumentReader
{
    /// <summary>Service-account claims nest three deep; 16 leaves room for harmless extra claims.</summary>
    public const int MaxDepth = 16;

    private static readonly JsonReaderOptions ReaderOptions = new()
    {
        MaxDepth = MaxDepth,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
    };

    /// <summary>Reads a JOSE header; <see langword="null"/> when the document is the JSON literal <c>null</c>.</summary>
    public static JwtHeaderDocument? ReadHeader(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, ReaderOptions);
        if (!StartDocument(ref reader))
        {
            return null;
        }

        var header = new JwtHeaderDocument();
        var seen = 0;
        while (NextMember(ref reader, out var name, out var escapedName))
        {
            if (name.SequenceEqual("alg"u8))
            {
                Mark(ref seen, 1, name);
                header.Algorithm = ReadString(ref reader, name);
            }
            else if (name.SequenceEqual("kid"u8))
            {
                Mark(ref seen, 2, name);
                header.KeyId = ReadString(ref reader, name);
            }
            else if (name.SequenceEqual("typ"u8))
            {
                Mark(ref seen, 4, name);
                header.Type = ReadString(ref reader, name);
            }
            else
            {
                header.Other = AddUnknown(header.Other, name, escapedName);
                SkipValue(ref reader);
            }
        }

        EndDocument(ref reader);
        return header;
    }

    /// <summary>Reads the claims of a payload; <see langword="null"/> when the document is the JSON literal <c>null</c>.</summary>
    public static JwtPayloadDocument? ReadPayload(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, ReaderOptions);
        if (!StartDocument(ref reader))
        {
            return null;
        }

        var payload = new JwtPayloadDocument();
        var seen = 0;
        HashSet<string>? other = null;
        while (NextMember(ref reader, out var name, out var escapedName))
        {
            switch (name.Length)
            {
                case 3 when name.SequenceEqual("iss"u8):
                    Mark(ref seen, 1 << 0, name);
                    payload.Issuer = ReadString(ref reader, name);
                    continue;
                case 3 when name.SequenceEqual("sub"u8):
                    Mark(ref seen, 1 << 1, name);
                    payload.Subject = ReadString(ref reader, name);
                    continue;
                case 3 when name.SequenceEqual("aud"u8):
                    Mark(ref seen, 1 << 2, name);
                    payload.Audiences = ReadAudiences(ref reader);
                    continue;
                case 3 when name.SequenceEqual("exp"u8):
                    Mark(ref seen, 1 << 3, name);
                    payload.ExpiresAt = ReadInteger(ref reader, name);
                    continue;
                case 3 when name.SequenceEqual("nbf"u8):
                    Mark(ref seen, 1 << 4, name);
                    payload.NotBefore = ReadInteger(ref reader, name);
                    continue;
                case 3 when name.SequenceEqual("iat"u8):
                    Mark(ref seen, 1 << 5, name);
                    payload.IssuedAt = ReadInteger(ref reader, name);
                    continue;
                case 3 when name.SequenceEqual("jti"u8):
                    Mark(ref seen, 1 << 6, name);
                    payload.TokenId = ReadString(ref reader, name);
                    continue;
                case 13 when name.SequenceEqual("kubernetes.io"u8):
                    Mark(ref seen, 1 << 7, name);
                    payload.Kubernetes = ReadKubernetes(ref reader);
                    continue;
                case 38 when name.SequenceEqual("kubernetes.io/serviceaccount/namespace"u8):
                    Mark(ref seen, 1 << 8, name);
                    payload.LegacyNamespace = ReadString(ref reader, name);
                    continue;
                case 40 when name.SequenceEqual("kubernetes.io/serviceaccount/secret.name"u8):
                    Mark(ref seen, 1 << 9, name);
                    payload.LegacySecretName = ReadString(ref reader, name);
                    continue;
                case 49 when name.SequenceEqual("kubernetes.io/serviceaccount/service-account.name"u8):
                    Mark(ref seen, 1 << 10, name);
                    payload.LegacyServiceAccountName = ReadString(ref reader, name);
                    continue;
                case 48 when name.SequenceEqual("kubernetes.io/serviceaccount/service-account.uid"u8):
                    Mark(ref seen, 1 << 11, name);
                    payload.LegacyServiceAccountUid = ReadString(ref reader, name);
                    continue;
                default:
                    other = AddUnknown(other, name, escapedName);
                    SkipValue(ref reader);
                    continue;
            }
        }

        EndDocument(ref reader);
        return payload;
    }

    private static KubernetesClaimDocument? ReadKubernetes(ref Utf8JsonReader reader)
    {
        if (!StartObject(ref reader, "kubernetes.io"))
        {
            return null;
        }

        var claim = new KubernetesClaimDocument();
        var seen = 0;
        HashSet<string>? other = null;
        while (NextMember(ref reader, out var name, out var escapedName))
        {
            if (name.SequenceEqual("namespace"u8))
            {
                Mark(ref seen, 1 << 0, name);
                claim.Namespace = ReadString(ref reader, name);
            }
            else if (name.SequenceEqual("serviceaccount"u8))
            {
                Mark(ref seen, 1 << 1, name);
                claim.ServiceAccount = ReadReference(ref reader);
            }
            else if (name.SequenceEqual("pod"u8))
            {
                Mark(ref seen, 1 << 2, name);
                claim.Pod = ReadReference(ref reader);
            }
            else if (name.SequenceEqual("node"u8))
            {
                Mark(ref seen, 1 << 3, name);
                claim.Node = ReadReference(ref reader);
            }
            else if (name.SequenceEqual("secret"u8))
            {
                Mark(ref seen, 1 << 4, name);
                claim.Secret = ReadReference(ref reader);
            }
            else if (name.SequenceEqual("warnafter"u8))
            {
                Mark(ref seen, 1 << 5, name);
                claim.WarnAfter = ReadInteger(ref reader, name);
            }
            else
            {
                other = AddUnknown(other, name, escapedName);
                SkipValue(ref reader);
            }
        }

        return claim;
    }

    private static ObjectReferenceDocument? ReadReference(ref Utf8JsonReader reader)
    {
        if (!StartObject(ref reader, "kubernetes.io reference"))
        {
            return null;
        }

        var reference = new ObjectReferenceDocument();
        var seen = 0;
        HashSet<string>? other = null;
        while (NextMember(ref reader, out var name, out var escapedName))
        {
            if (name.SequenceEqual("name"u8))
            {
                Mark(ref seen, 1, name);
                reference.Name = ReadString(ref reader, name);
            }
            else if (name.SequenceEqual("uid"u8))
            {
                Mark(ref seen, 2, name);
                reference.Uid = ReadString(ref reader, name);
            }
            else
            {
                other = AddUnknown(other, name, escapedName);
                SkipValue(ref reader);
            }
        }

        return reference;
    }

    private static string[]? ReadAudiences(ref Utf8JsonReader reader)
    {
        reader.Read();
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return [reader.GetString()!];
            case JsonTokenType.StartArray:
                break;
            default:
                throw new JsonException("'aud' must be a string or an array of strings.");
        }

        string? first = null;
        List<string>? more = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new JsonException("'aud' must be a string or an array of strings.");
            }

            var audience = reader.GetString()!;
            if (first is null)
            {
                first = audience;
            }
            else
            {
                (more ??= new List<string>(4) { first }).Add(audience);
            }
        }

        return more is not null ? [.. more] : first is not null ? [first] : [];
    }

    /// <summary>Reads the first token: true for an object, false for <c>null</c>; anything else is refused.</summary>
    private static bool StartDocument(ref Utf8JsonReader reader)
    {
        reader.Read();
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                return true;
            case JsonTokenType.Null:
                EndDocument(ref reader);
                return false;
            default:
                throw new JsonException("The document is not a JSON object.");
        }
    }

    /// <summary>Nothing but white space may follow the value (the reader throws on a second value or garbage).</summary>
    private static void EndDocument(ref Utf8JsonReader reader)
    {
        if (reader.Read())
        {
            throw new JsonException("The document has more than one JSON value.");
        }
    }

    private static bool StartObject(ref Utf8JsonReader reader, string what)
    {
        reader.Read();
        return reader.TokenType switch
        {
            JsonTokenType.StartObject => true,
            JsonTokenType.Null => false,
            _ => throw new JsonException($"'{what}' must be a JSON object."),
        };
    }

    /// <summary>
    /// Moves to the next member of the current object and gives its unescaped name (the value is read by
    /// the caller); false at the end of the object.
    /// </summary>
    private static bool NextMember(ref Utf8JsonReader reader, out ReadOnlySpan<byte> name, out byte[]? escapedName)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.EndObject)
        {
            name = default;
            escapedName = null;
            return false;
        }

        // The reader only yields a property name or the end inside an object.
        if (!reader.ValueIsEscaped)
        {
            name = reader.ValueSpan;
            escapedName = null;
            return true;
        }

        // Rare (and suspicious): compare the name as the producer meant it, after unescaping.
        escapedName = Encoding.UTF8.GetBytes(reader.GetString()!);
        name = escapedName;
        return true;
    }

    private static void Mark(ref int seen, int bit, scoped ReadOnlySpan<byte> name)
    {
        if ((seen & bit) != 0)
        {
            throw Duplicate(name);
        }

        seen |= bit;
    }

    private static HashSet<string> AddUnknown(HashSet<string>? names, scoped ReadOnlySpan<byte> name, byte[]? escapedName)
    {
        names ??= new HashSet<string>(StringComparer.Ordinal);
        if (!names.Add(Encoding.UTF8.GetString(escapedName ?? name)))
        {
            throw Duplicate(name);
        }

        return names;
    }

    private static JsonException Duplicate(scoped ReadOnlySpan<byte> name) =>
        new($"The member '{KubernetesTokenValidator.Shorten(Encoding.UTF8.GetString(name))}' appears more than once.");

    private static string? ReadString(ref Utf8JsonReader reader, scoped ReadOnlySpan<byte> name)
    {
        reader.Read();
        return reader.TokenType switch
        {
            JsonTokenType.String => reader.GetString(),
            JsonTokenType.Null => null,
            _ => throw new JsonException($"'{Encoding.UTF8.GetString(name)}' must be a string."),
        };
    }

    private static long? ReadInteger(ref Utf8JsonReader reader, scoped ReadOnlySpan<byte> name)
    {
        reader.Read();
        return reader.TokenType switch
        {
            // TryGetInt64 refuses fractions ("1.0"), exponents ("1e9") and values past Int64.
            JsonTokenType.Number when reader.TryGetInt64(out var value) => value,
            JsonTokenType.Null => null,
            _ => throw new JsonException($"'{Encoding.UTF8.GetString(name)}' must be an integer."),
        };
    }

    /// <summary>Walks a value the rules do not read, refusing duplicate member names in the objects inside it.</summary>
    private static void SkipValue(ref Utf8JsonReader reader)
    {
        reader.Read();
        SkipCurrent(ref reader);
    }

    private static void SkipCurrent(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                HashSet<string>? names = null;
                while (NextMember(ref reader, out var name, out var escapedName))
                {
                    names = AddUnknown(names, name, escapedName);
                    SkipValue(ref reader);
                }

                break;
            case JsonTokenType.StartArray:
                // The reader bounds the depth (MaxDepth), so this recursion is bounded too.
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    SkipCurrent(ref reader);
                }

                break;
        }
    }
}
