// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text.Json;
using System.Text.Json.Serialization;

namespace KubeSaAuth.ClusterView;

/// <summary>The metadata of an object (<c>ObjectMeta</c>), only the fields the view keeps; also a list's <c>ListMeta</c>.</summary>
internal sealed class ObjectMetaJson
{
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("namespace")]
    public string? Namespace { get; set; }

    [JsonPropertyName("uid")]
    public string? Uid { get; set; }

    [JsonPropertyName("resourceVersion")]
    public string? ResourceVersion { get; set; }

    [JsonPropertyName("deletionTimestamp")]
    public DateTimeOffset? DeletionTimestamp { get; set; }

    [JsonPropertyName("labels")]
    public Dictionary<string, string>? Labels { get; set; }

    [JsonPropertyName("continue")]
    public string? Continue { get; set; }

    /// <summary>
    /// Whether the annotations hold <c>k8s.io/initial-events-end: "true"</c>: the bookmark that ends a streaming list's
    /// initial events. Read without keeping the annotations (a Pod's can be large).
    /// </summary>
    [JsonPropertyName("annotations")]
    [JsonConverter(typeof(InitialEventsEndConverter))]
    public bool InitialEventsEnd { get; set; }
}

/// <summary>Reads an annotations object for one key only, skipping (never allocating) the others.</summary>
internal sealed class InitialEventsEndConverter : JsonConverter<bool>
{
    private static ReadOnlySpan<byte> Key => "k8s.io/initial-events-end"u8;

    public override bool Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return false;
        }

        var found = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isKey = reader.ValueTextEquals(Key);
            reader.Read();
            if (isKey && reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("true"u8))
            {
                found = true;
            }
            else
            {
                reader.Skip();
            }
        }

        return found;
    }

    public override void Write(Utf8JsonWriter writer, bool value, JsonSerializerOptions options) =>
        throw new NotSupportedException("The view never writes annotations.");
}

/// <summary>A <c>PartialObjectMetadata</c>, or a <c>Status</c> (an error, also as the object of an ERROR watch event).</summary>
internal sealed class ObjectJson
{
    [JsonPropertyName("kind")]
    public string? Kind { get; set; }

    [JsonPropertyName("metadata")]
    public ObjectMetaJson? Metadata { get; set; }

    [JsonPropertyName("code")]
    public int? Code { get; set; }

    [JsonPropertyName("reason")]
    public string? Reason { get; set; }

    [JsonPropertyName("message")]
    public string? Message { get; set; }
}

/// <summary>A <c>PartialObjectMetadataList</c> page.</summary>
internal sealed class ListJson
{
    [JsonPropertyName("kind")]
    public string? Kind { get; set; }

    [JsonPropertyName("metadata")]
    public ObjectMetaJson? Metadata { get; set; }

    [JsonPropertyName("items")]
    public List<ObjectJson>? Items { get; set; }
}

/// <summary>One line of a watch: <c>{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}</c>.</summary>
internal sealed class WatchEventJson
{
    [JsonPropertyName("type")]
    public string? Type { get; set; }

    [JsonPropertyName("object")]
    public ObjectJson? Object { get; set; }
}

/// <summary>Source-generated (Native AOT, no reflection) serialization of the few shapes the view reads.</summary>
[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(ListJson))]
[JsonSerializable(typeof(ObjectJson))]
[JsonSerializable(typeof(WatchEventJson))]
internal sealed partial class ClusterViewJsonContext : JsonSerializerContext;
