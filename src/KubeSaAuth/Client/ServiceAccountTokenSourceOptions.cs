// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Client;

/// <summary>Options of a <see cref="ServiceAccountTokenSource"/>.</summary>
public sealed class ServiceAccountTokenSourceOptions
{
    /// <summary>
    /// The token file: the Pod's own token, or a projected one such as <c>/var/run/secrets/tokens/my-api</c>
    /// (a <c>serviceAccountToken</c> volume source with the audience of the service you call).
    /// </summary>
    /// <value>Default <c>/var/run/secrets/kubernetes.io/serviceaccount/token</c>.</value>
    public string Path { get; set; } = KubernetesServiceAccountDefaults.ServiceAccountDirectory + "/token";

    /// <summary>
    /// How often the file is read again to pick up the token the kubelet rotated (it swaps a symlink, which
    /// file watchers miss). Between two reads, tokens come from memory.
    /// </summary>
    /// <value>Default 1 minute; the kubelet rotates at 80 % of the token's lifetime (48 minutes of an hour).</value>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long before its <c>exp</c> a cached token is treated as expired and the file read again.
    /// </summary>
    /// <value>Default 10 seconds.</value>
    public TimeSpan ExpirationMargin { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The clock.</summary>
    /// <value>Default <see langword="null"/>: the system clock.</value>
    public TimeProvider? TimeProvider { get; set; }
}
