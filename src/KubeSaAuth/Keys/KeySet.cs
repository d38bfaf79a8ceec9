// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Frozen;

namespace KubeSaAuth.Keys;

/// <summary>An immutable snapshot of the issuer's keys, as one successful fetch returned them.</summary>
internal sealed class KeySet
{
    private static readonly SigningKey[] NoKeys = [];

    public KeySet(IReadOnlyList<SigningKey> keys, string? discoveredIssuer, DateTimeOffset fetchedAt, long generation, long trustEpoch, IReadOnlyList<WeakKey>? weakKeys = null)
    {
        Keys = keys;
        WeakKeys = weakKeys ?? [];
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

    /// <summary>The RSA keys of the source that were refused for their size (RFC 7518 §3.3): never used to verify.</summary>
    public IReadOnlyList<WeakKey> WeakKeys { get; }

    /// <summary>The weak key with this <c>kid</c>, if the source listed one: a token naming it is refused with that reason.</summary>
    public WeakKey? FindWeakKey(string keyId)
    {
        foreach (var weak in WeakKeys)
        {
            if (string.Equals(weak.KeyId, keyId, StringComparison.Ordinal))
            {
                return weak;
            }
        }

        return null;
    }

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

/// <summary>An RSA key of the source under 2048 bits: its <c>kid</c> and modulus size, for logs, the health check and refusals.</summary>
internal sealed record WeakKey(string? KeyId, int Bits)
{
    public override string ToString() => $"kid '{KeyId ?? "(none)"}' (RSA {Bits} bits)";
}
