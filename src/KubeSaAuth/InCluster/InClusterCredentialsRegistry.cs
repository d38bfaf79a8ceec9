// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;

namespace KubeSaAuth.InCluster;

/// <summary>One <see cref="InClusterCredentials"/> per service-account directory, shared by every scheme and by TokenReview.</summary>
internal sealed class InClusterCredentialsRegistry
{
    /// <summary>The token is read again this often (the kubelet rotates it at 80 % of its lifetime).</summary>
    internal static readonly TimeSpan TokenRefreshInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, InClusterCredentials> _credentials = new(StringComparer.Ordinal);

    public InClusterCredentials Get(string directory, TimeProvider? clock = null) =>
        _credentials.GetOrAdd(Path.GetFullPath(directory), d => new InClusterCredentials(d, clock ?? TimeProvider.System, TokenRefreshInterval));
}
