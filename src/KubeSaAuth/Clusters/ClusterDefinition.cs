// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth;

/// <summary>One cluster of a scheme as configured: its name, the prefix of its option keys in messages (<c>Clusters:prod-eu:</c>, empty for the scheme's own cluster), and its effective options.</summary>
internal sealed record ClusterDefinition(string Name, string Prefix, KubernetesServiceAccountOptions Options);
