// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text.Json;
using System.Text.Json.Serialization;

namespace KubeSaAuth.Tokens;

/// <summary>The JOSE header of a service-account token; every other member lands in <see cref="Other"/>.</summary>
internal sealed class JwtHeaderDocument
{
    [JsonPropertyName("alg")]
    public string? Algorithm { get; set; }

    [JsonPropertyName("kid")]
    public string? KeyId { get; set; }

    [JsonPropertyName("typ")]
    public string? Type { get; set; }

    // Unknown members are captured so that duplicates among them are refused too (RFC 7515 §4: a
    // producer must not repeat a name; IdentityModel keeps the last one, we refuse the token).
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Other { get; set; }
}

/// <summary>The claims of a bound or legacy service-account token that the rules read.</summary>
internal sealed class JwtPayloadDocument
{
    [JsonPropertyName("iss")]
    public string? Issuer { get; set; }

    [JsonPropertyName("sub")]
    public string? Subject { get; set; }

    // RFC 7519 §4.1.3: a single string or an array of strings.
    [JsonPropertyName("aud")]
    [JsonConverter(typeof(AudienceConverter))]
    public string[]? Audiences { get; set; }

    [JsonPropertyName("exp")]
    public long? ExpiresAt { get; set; }

    [JsonPropertyName("nbf")]
    public long? NotBefore { get; set; }

    [JsonPropertyName("iat")]
    public long? IssuedAt { get; set; }

    [JsonPropertyName("jti")]
    public string? TokenId { get; set; }

    // k8s pkg/serviceaccount/claims.go: the private claim of bound tokens.
    [JsonPropertyName("kubernetes.io")]
    public KubernetesClaimDocument? Kubernetes { get; set; }

    // k8s pkg/serviceaccount/legacy.go: the flat claims of secret-based tokens.
    [JsonPropertyName("kubernetes.io/serviceaccount/namespace")]
    public string? LegacyNamespace { get; set; }

    [JsonPropertyName("kubernetes.io/serviceaccount/secret.name")]
    public string? LegacySecretName { get; set; }

    [JsonPropertyName("kubernetes.io/serviceaccount/service-account.name")]
    public string? LegacyServiceAccountName { get; set; }

    [JsonPropertyName("kubernetes.io/serviceaccount/service-account.uid")]
    public string? LegacyServiceAccountUid { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Other { get; set; }
}

/// <summary>The <c>kubernetes.io</c> claim of a bound token.</summary>
internal sealed class KubernetesClaimDocument
{
    [JsonPropertyName("namespace")]
    public string? Namespace { get; set; }

    [JsonPropertyName("serviceaccount")]
    public ObjectReferenceDocument? ServiceAccount { get; set; }

    [JsonPropertyName("pod")]
    public ObjectReferenceDocument? Pod { get; set; }

    [JsonPropertyName("node")]
    public ObjectReferenceDocument? Node { get; set; }

    [JsonPropertyName("secret")]
    public ObjectReferenceDocument? Secret { get; set; }

    [JsonPropertyName("warnafter")]
    public long? WarnAfter { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Other { get; set; }
}

/// <summary>A <c>{"name","uid"}</c> reference inside the <c>kubernetes.io</c> claim.</summary>
internal sealed class ObjectReferenceDocument
{
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("uid")]
    public string? Uid { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Other { get; set; }
}

/// <summary>Reads <c>aud</c> as a string or an array of strings; anything else is malformed.</summary>
internal sealed class AudienceConverter : JsonConverter<string[]>
{
    public override string[]? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return [reader.GetString()!];
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException("'aud' must be a string or an array of strings.");
        }

        var audiences = new List<string>(2);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new JsonException("'aud' must be a string or an array of strings.");
            }

            audiences.Add(reader.GetString()!);
        }

        return [.. audiences];
    }

    public override void Write(Utf8JsonWriter writer, string[] value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value, JwtJsonContext.Default.StringArray);
}

/// <summary>
/// Strict System.Text.Json metadata: duplicate members refused at every depth, numbers only as JSON
/// integers (no strings, no fractions, nothing past Int64), and a small nesting limit.
/// </summary>
[JsonSourceGenerationOptions(
    AllowDuplicateProperties = false,
    NumberHandling = JsonNumberHandling.Strict,
    MaxDepth = JwtJsonContext.MaxDepth,
    PropertyNameCaseInsensitive = false,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    AllowTrailingCommas = false)]
[JsonSerializable(typeof(JwtHeaderDocument))]
[JsonSerializable(typeof(JwtPayloadDocument))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class JwtJsonContext : JsonSerializerContext
{
    /// <summary>Service-account claims nest three deep; 16 leaves room for harmless extra claims.</summary>
    public const int MaxDepth = 16;
}
