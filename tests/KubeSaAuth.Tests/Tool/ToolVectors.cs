// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text.Json.Nodes;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.Tests.Vectors;

namespace KubeSaAuth.Tests.Tool;

/// <summary>The parts of the repository's vectors file (<see cref="TokenVectors"/>) the inspect tests use.</summary>
internal static class ToolVectors
{
    public static JsonObject Root => TokenVectors.Document;

    /// <summary>The JWKS of the Kubernetes unit-test keys (RSA kid JHJeh..., EC kid SoABi...).</summary>
    public static string Jwks => Root["verbatim_k8s_discovery_and_jwks"]!["jwks_raw"]!.GetValue<string>();

    public static string Token(string name) => Root["derived_with_k8s_test_keys"]![name]!["token"]!.GetValue<string>();
}
