// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Frozen;

namespace KubeSaAuth.Keys;

/// <summary>An immutable snapshot of the issuer's keys, as one successful fetch returned them.</summary>
internal sealed class KeySet
{
    private static readonly SigningKey[] NoKeys = [];

    public KeySet(IReadOnlyList<SigningKey> keys, string? discoveredIssuer, DateTimeOffset fetchedAt, long generation, long trustEpoch)
    {
        Keys = keys;
        DiscoveredIssuer = discoveredIssuer;
        FetchedAt = fetchedAt;
        Generation = generation;
        TrustEpoch = trustEpoch;
        ByKeyId = keys.Where(k => k.KeyId is not null)
            .GroupBy(k => k.KeyId!, StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
    }

    /// <summary>All usable keys.</summary>
    public IReadOnlyList<SigningKey> Keys { get; }

    /// <summary>The <c>issuer</c> of the discovery document, if one was fetched.</summary>
    public string? DiscoveredIssuer { get; }

    /// <summary>When the fetch that produced this set completed.</summary>
    public DateTimeOffset FetchedAt { get; }

    /// <summary>Increases with every change of the key set.</summary>
    public long Generation { get; }

    /// <summary>
    /// Increases whenever a key is removed: anything validated under an older epoch may rest on a key
    /// the cluster revoked, and must be validated again.
    /// </summary>
    public long TrustEpoch { get; }

    private FrozenDictionary<string, SigningKey[]> ByKeyId { get; }

    /// <summary>The keys with this <c>kid</c>; empty when none.</summary>
    public SigningKey[] FindByKeyId(string keyId) => ByKeyId.TryGetValue(keyId, out var keys) ? keys : NoKeys;

    /// <summary>Whether both sets hold the same keys.</summary>
    public bool HasSameKeys(IReadOnlyList<SigningKey> other) =>
        Keys.Count == other.Count && Keys.Select(k => k.Fingerprint).ToHashSet(StringComparer.Ordinal).SetEquals(other.Select(k => k.Fingerprint));

    /// <summary>Whether any key of this set is missing from <paramref name="next"/>.</summary>
    public bool LosesKeysTo(IReadOnlyList<SigningKey> next)
    {
        var kept = next.Select(k => k.Fingerprint).ToHashSet(StringComparer.Ordinal);
        return Keys.Any(k => !kept.Contains(k.Fingerprint));
    }
}
