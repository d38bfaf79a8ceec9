// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;

namespace KubeSaAuth.Caching;

/// <summary>
/// Validated tokens, keyed by the exact token text (held as its ASCII bytes, half the memory of a
/// string): the hash only picks a bucket, and a hit needs the whole token to compare equal, so no crafted
/// token can borrow a cached validation.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>An entry is made on the <em>second</em> successful validation of a token (a doorkeeper of
/// fingerprints remembers the first), so one-shot tokens — a flood of unique valid tokens included —
/// never fill it.</item>
/// <item>Only tokens of at most <see cref="MaxCachedTokenLength"/> characters are held.</item>
/// <item>Bounded by <c>MaxEntries</c>: past it, expired entries and then those closest to expiry go.</item>
/// <item>An entry lives until the token's <c>exp</c>, its <c>warnafter</c> (+ clock skew) when that is
/// enforced, and at most <c>MaxAge</c>; and only while the key set has lost no key (trust epoch).</item>
/// <item>Only successes are stored; a failure never creates, extends or hides an entry.</item>
/// </list>
/// The cached value is the immutable <see cref="KubernetesServiceAccount"/>: every request gets a fresh
/// principal built from it. One cache serves every cluster of a scheme: an entry remembers the cluster
/// (<see cref="ITrustEpochSource"/>) that validated it, so a hit needs no routing and is judged by that
/// cluster's keys in hand.
/// </remarks>
internal sealed class ValidationCache
{
    /// <summary>Longer tokens are validated every time (service-account tokens are 1–2 KB).</summary>
    public const int MaxCachedTokenLength = 8 * 1024;

    private readonly ConcurrentDictionary<byte[], Entry> _entries;
    private readonly ConcurrentDictionary<byte[], Entry>.AlternateLookup<ReadOnlySpan<char>> _bySpan;
    private readonly long[] _seen;
    private readonly TimeProvider _time;
    private readonly int _maxEntries;
    private readonly TimeSpan _maxAge;
    private readonly bool _enforceWarnAfter;
    private readonly TimeSpan _skew;
    private int _count;
    private int _evicting;

    public ValidationCache(KubernetesServiceAccountOptions options, TimeProvider timeProvider)
    {
        // Looked up with the header's characters (no substring, no encoding on a hit).
        _entries = new ConcurrentDictionary<byte[], Entry>(TokenComparer.Instance);
        _bySpan = _entries.GetAlternateLookup<ReadOnlySpan<char>>();
        _time = timeProvider;
        _maxEntries = options.ValidationCache.MaxEntries;
        _maxAge = options.ValidationCache.MaxAge;
        _enforceWarnAfter = options.EnforceWarnAfter;
        _skew = options.ClockSkew;
        _seen = new long[DoorkeeperSize(_maxEntries)];
    }

    /// <summary>The number of cached tokens.</summary>
    public int Count => _entries.Count;

    /// <summary>The cached caller of <paramref name="token"/>, if it is cached, unexpired and validated under <paramref name="trustEpoch"/>.</summary>
    public bool TryGet(ReadOnlySpan<char> token, long trustEpoch, out KubernetesServiceAccount? serviceAccount) =>
        TryGet(token, trustEpoch, out serviceAccount, out _);

    /// <summary>
    /// The cached caller of <paramref name="token"/> and the source (cluster) that validated it, if it is cached,
    /// unexpired and validated under that source's current trust epoch (the keys it has in hand now).
    /// </summary>
    public bool TryGet(ReadOnlySpan<char> token, out KubernetesServiceAccount? serviceAccount, out ITrustEpochSource? owner) =>
        TryGet(token, trustEpoch: null, out serviceAccount, out owner);

    private bool TryGet(ReadOnlySpan<char> token, long? trustEpoch, out KubernetesServiceAccount? serviceAccount, out ITrustEpochSource? owner)
    {
        if (_bySpan.TryGetValue(token, out var entry))
        {
            if (entry.TrustEpoch == (trustEpoch ?? entry.Owner?.CurrentTrustEpoch) && _time.GetUtcNow().UtcTicks < entry.ExpiresAtTicks)
            {
                serviceAccount = entry.ServiceAccount;
                owner = entry.Owner;
                return true;
            }

            // Expired or validated under keys since revoked: drop it (only this entry, not a newer one).
            if (_entries.TryRemove(new KeyValuePair<byte[], Entry>(entry.Token, entry)))
            {
                Interlocked.Decrement(ref _count);
            }
        }

        serviceAccount = null;
        owner = null;
        return false;
    }

    /// <summary>
    /// Records a successful validation: the first one of a token only marks it as seen; the second caches it.
    /// Returns whether an entry was made.
    /// </summary>
    public bool AddValidated(string token, KubernetesServiceAccount serviceAccount, long trustEpoch, ITrustEpochSource? owner = null)
    {
        // Service-account tokens are base64url and dots: anything else is validated every time.
        if (token.Length > MaxCachedTokenLength || !Ascii.IsValid(token))
        {
            return false;
        }

        if (!SecondSight(token))
        {
            return false;
        }

        var now = _time.GetUtcNow();
        var expiresAt = now + _maxAge;
        if (serviceAccount.ExpiresAt is { } exp && exp < expiresAt)
        {
            expiresAt = exp;
        }

        // Compared as warnAfter < expiresAt - skew: never an addition to a time read from the token.
        if (_enforceWarnAfter && serviceAccount.WarnAfter is { } warnAfter && warnAfter < expiresAt - _skew)
        {
            expiresAt = warnAfter + _skew;
        }

        if (expiresAt <= now)
        {
            return false;
        }

        var key = Encoding.ASCII.GetBytes(token);
        var entry = new Entry(key, serviceAccount, expiresAt.UtcTicks, trustEpoch, owner);
        if (_entries.TryAdd(key, entry))
        {
            if (Interlocked.Increment(ref _count) > _maxEntries)
            {
                Evict(now.UtcTicks);
            }
        }
        else
        {
            _entries[key] = entry;
        }

        return true;
    }

    /// <summary>Forgets <paramref name="token"/> (TokenReview said no): its next request is validated in full.</summary>
    public bool Remove(ReadOnlySpan<char> token)
    {
        if (_bySpan.TryRemove(token, out _, out _))
        {
            Interlocked.Decrement(ref _count);
            return true;
        }

        return false;
    }

    /// <summary>Drops the entries <paramref name="owner"/> validated (one cluster of several lost a key). Returns how many went.</summary>
    public int Clear(ITrustEpochSource owner)
    {
        var dropped = 0;
        foreach (var pair in _entries)
        {
            if (ReferenceEquals(pair.Value.Owner, owner) && _entries.TryRemove(pair))
            {
                Interlocked.Decrement(ref _count);
                dropped++;
            }
        }

        return dropped;
    }

    /// <summary>Drops every entry and every first sighting (a key was removed). Returns how many entries went.</summary>
    public int Clear()
    {
        var count = _entries.Count;
        _entries.Clear();
        Volatile.Write(ref _count, 0);
        Array.Clear(_seen);
        return count;
    }

    /// <summary>
    /// The doorkeeper: a direct-mapped table of token fingerprints (randomized tail hash and length).
    /// A collision at worst admits a token on its first validation, and only ever after a full validation.
    /// </summary>
    private bool SecondSight(string token)
    {
        // The cache's own tail hash (process-randomized), not a hash of all ~1,200 characters.
        var hash = TokenComparer.Instance.GetHashCode(token.AsSpan());
        var fingerprint = ((long)hash << 32) | (uint)token.Length;
        ref var slot = ref _seen[(uint)hash & (uint)(_seen.Length - 1)];
        if (Volatile.Read(ref slot) == fingerprint)
        {
            Volatile.Write(ref slot, 0);
            return true;
        }

        Volatile.Write(ref slot, fingerprint);
        return false;
    }

    private static int DoorkeeperSize(int maxEntries)
    {
        // Twice the entries, a power of two, at most 1 Mi slots (8 MB).
        var size = 1024;
        while (size < maxEntries * 2L && size < (1 << 20))
        {
            size <<= 1;
        }

        return size;
    }

    private void Evict(long nowTicks)
    {
        // One thread evicts; the others go on meanwhile (the bound may be passed by a few entries briefly).
        if (Interlocked.Exchange(ref _evicting, 1) == 1)
        {
            return;
        }

        try
        {
            foreach (var pair in _entries)
            {
                if (pair.Value.ExpiresAtTicks <= nowTicks && _entries.TryRemove(pair))
                {
                    Interlocked.Decrement(ref _count);
                }
            }

            // Still full: drop the entries closest to expiry until a tenth of the room is free.
            var target = _maxEntries - Math.Max(1, _maxEntries / 10);
            var snapshot = _entries.ToArray();
            var excess = snapshot.Length - target;
            if (excess > 0)
            {
                Array.Sort(snapshot, static (a, b) => a.Value.ExpiresAtTicks.CompareTo(b.Value.ExpiresAtTicks));
                for (var i = 0; i < excess; i++)
                {
                    _entries.TryRemove(snapshot[i]);
                }
            }

            Volatile.Write(ref _count, _entries.Count);
        }
        finally
        {
            Volatile.Write(ref _evicting, 0);
        }
    }

    private sealed class Entry(byte[] token, KubernetesServiceAccount serviceAccount, long expiresAtTicks, long trustEpoch, ITrustEpochSource? owner)
    {
        public ITrustEpochSource? Owner { get; } = owner;

        public byte[] Token { get; } = token;

        public KubernetesServiceAccount ServiceAccount { get; } = serviceAccount;

        public long ExpiresAtTicks { get; } = expiresAtTicks;

        public long TrustEpoch { get; } = trustEpoch;
    }

    /// <summary>
    /// Compares tokens in full (bytes to bytes, or bytes to the request's characters). The hash covers the
    /// length and the last characters — the signature of a token, uniformly random — with a per-process
    /// random seed (<see cref="HashCode"/>). Only tokens validated twice are ever keys, so no attacker can
    /// fill a bucket; a crafted token that shares a hash costs one full comparison and misses.
    /// </summary>
    private sealed class TokenComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<char>, byte[]>
    {
        public static readonly TokenComparer Instance = new();

        private const int HashedTail = 32;

        public bool Equals(byte[]? x, byte[]? y) => ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

        public int GetHashCode(byte[] obj)
        {
            if (obj.Length >= HashedTail)
            {
                return TailHash(obj.AsSpan(obj.Length - HashedTail), obj.Length);
            }

            var hash = default(HashCode);
            hash.Add(obj.Length);
            foreach (var b in obj)
            {
                hash.Add(b);
            }

            return hash.ToHashCode();
        }

        public bool Equals(ReadOnlySpan<char> alternate, byte[] other) => alternate.Length == other.Length && Ascii.Equals(other, alternate);

        public int GetHashCode(ReadOnlySpan<char> alternate)
        {
            if (alternate.Length >= HashedTail)
            {
                Span<byte> tail = stackalloc byte[HashedTail];

                // Not ASCII: never equal to a key (keys are ASCII), so any hash will do.
                return Ascii.FromUtf16(alternate[^HashedTail..], tail, out _) == System.Buffers.OperationStatus.Done
                    ? TailHash(tail, alternate.Length)
                    : alternate.Length;
            }

            var hash = default(HashCode);
            hash.Add(alternate.Length);
            foreach (var c in alternate)
            {
                // Same value as the byte for ASCII; anything else never equals a key anyway.
                hash.Add(unchecked((byte)c));
            }

            return hash.ToHashCode();
        }

        /// <summary>
        /// The length and the last 32 characters (the end of the signature, random for every token), mixed as
        /// four 64-bit words by the process-randomized <see cref="HashCode"/>: five rounds rather than 33.
        /// </summary>
        private static int TailHash(ReadOnlySpan<byte> tail, int length) => HashCode.Combine(
            length,
            MemoryMarshal.Read<ulong>(tail),
            MemoryMarshal.Read<ulong>(tail[8..]),
            MemoryMarshal.Read<ulong>(tail[16..]),
            MemoryMarshal.Read<ulong>(tail[24..]));

        public byte[] Create(ReadOnlySpan<char> alternate)
        {
            var bytes = new byte[alternate.Length];
            Encoding.ASCII.GetBytes(alternate, bytes);
            return bytes;
        }
    }
}

/// <summary>Whoever validated a cached token (a cluster): the trust epoch of the keys it has in hand now.</summary>
internal interface ITrustEpochSource
{
    /// <summary>The current key set's trust epoch; <see langword="null"/> when no keys are in hand.</summary>
    long? CurrentTrustEpoch { get; }
}
