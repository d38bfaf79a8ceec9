// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using KubeSaAuth.Client;

namespace KubeSaAuth.Backchannel;

/// <summary>One <see cref="BackchannelCredentials"/> per (CA bundle, token file), shared by every scheme and by TokenReview.</summary>
internal sealed class BackchannelCredentialsRegistry
{
    /// <summary>The token is read again this often (the kubelet rotates it at 80 % of its lifetime).</summary>
    internal static readonly TimeSpan TokenRefreshInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<(string Ca, string Token), BackchannelCredentials> _credentials = new();

    public BackchannelCredentials Get(string? caPath, string? tokenPath, TimeProvider? clock = null)
    {
        var key = (caPath is null ? string.Empty : Path.GetFullPath(caPath), tokenPath is null ? string.Empty : Path.GetFullPath(tokenPath));
        return _credentials.GetOrAdd(key, k => new BackchannelCredentials(
            k.Ca.Length == 0 ? null : new CustomRootTrust(k.Ca),
            k.Token.Length == 0 ? null : new ServiceAccountTokenSource(new ServiceAccountTokenSourceOptions
            {
                Path = k.Token,
                RefreshInterval = TokenRefreshInterval,
                TimeProvider = clock ?? TimeProvider.System,
            })));
    }
}
