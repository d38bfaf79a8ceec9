// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using KubeSaAuth.Keys;

namespace KubeSaAuth.Schemes;

/// <summary>The key sources of every scheme, for the health check and warm-up; disposes them with the container.</summary>
internal sealed class KeySourceRegistry : IDisposable
{
    public const string HttpClientNamePrefix = "KubeSaAuth.";

    private readonly ConcurrentDictionary<string, SigningKeySource> _sources = new(StringComparer.Ordinal);

    public void Add(string scheme, SigningKeySource source)
    {
        if (_sources.TryGetValue(scheme, out var previous) && !ReferenceEquals(previous, source))
        {
            previous.Dispose();
        }

        _sources[scheme] = source;
    }

    public SigningKeySource? Get(string scheme) => _sources.TryGetValue(scheme, out var source) ? source : null;

    public void Dispose()
    {
        foreach (var source in _sources.Values)
        {
            source.Dispose();
        }

        _sources.Clear();
    }
}
