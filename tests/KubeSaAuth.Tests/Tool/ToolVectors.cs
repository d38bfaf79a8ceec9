// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text.Json.Nodes;

namespace KubeSaAuth.Tests.Tool;

/// <summary>The shared vectors file (<c>../shared/vectors/kubernetes-token-vectors.json</c> beside the repository).</summary>
internal static class ToolVectors
{
    private static readonly Lazy<JsonObject?> Document = new(Load);

    public static string? Path { get; } = Find();

    public static JsonObject Root => Document.Value ?? throw new InvalidOperationException("The vectors file is missing.");

    /// <summary>The JWKS of the Kubernetes unit-test keys (RSA kid JHJeh..., EC kid SoABi...).</summary>
    public static string Jwks => Root["verbatim_k8s_discovery_and_jwks"]!["jwks_raw"]!.GetValue<string>();

    public static string Token(string name) => Root["derived_with_k8s_test_keys"]![name]!["token"]!.GetValue<string>();

    private static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "KubeSaAuth.sln")))
            {
                var path = System.IO.Path.GetFullPath(System.IO.Path.Combine(dir.FullName, "..", "shared", "vectors", "kubernetes-token-vectors.json"));
                return File.Exists(path) ? path : null;
            }
        }

        return null;
    }

    private static JsonObject? Load() => Path is null ? null : JsonNode.Parse(File.ReadAllText(Path))!.AsObject();
}

/// <summary>A fact that is skipped, with a message, when the shared vectors file is absent.</summary>
public sealed class ToolVectorsFactAttribute : FactAttribute
{
    public ToolVectorsFactAttribute()
    {
        if (ToolVectors.Path is null)
        {
            Skip = "The shared vectors file (../shared/vectors/kubernetes-token-vectors.json beside the repository) is absent.";
        }
    }
}

/// <summary>A theory that is skipped, with a message, when the shared vectors file is absent.</summary>
public sealed class ToolVectorsTheoryAttribute : TheoryAttribute
{
    public ToolVectorsTheoryAttribute()
    {
        if (ToolVectors.Path is null)
        {
            Skip = "The shared vectors file (../shared/vectors/kubernetes-token-vectors.json beside the repository) is absent.";
        }
    }
}
