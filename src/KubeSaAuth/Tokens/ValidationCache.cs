// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace KubeSaAuth.Tokens;

/// <summary>
/// Validated tokens, keyed by the SHA-256 of the token (no token is held in memory, and no crafted
/// token can collide with a cached one). Bounded in entries; an entry lives until the token's expiry
/// (and, when enforced, its warnafter), at most <c>MaxAge</c>, and only while the key set has lost no
/// key since it was validated. Only successes are stored.
/// </summary>
internal sealed class ValidationCache
{
    private readonly ConcurrentDictionary<TokenHash, Entry> _entries = new();
    private readonly TimeProvider _time;
    private readonly int _maxEntries;
    private readonly TimeSpan _maxAge;
    private readonly bool _enforceWarnAfter;
    private readonly TimeSpan _skew;
    private int _evicting;

    public ValidationCache(KubernetesServiceAccountOptions options, TimeProvider timeProvider)
    {
        _time = timeProvider;
        _maxEntries = options.ValidationCache.MaxEntries;
        _maxAge = options.ValidationCache.MaxAge;
        _enforceWarnAfter = options.EnforceWarnAfter;
        _skew = options.ClockSkew;
    }

    public int Count => _entries.Count;

    public static TokenHash Hash(string token)
    {
        Span<byte> hash = stackalloc byte[32];
        var max = Encoding.UTF8.GetMaxByteCount(token.Length);
        if (max <= 4096)
        {
            Span<byte> buffer = stackalloc byte[max];
            var written = Encoding.UTF8.GetBytes(token, buffer);
            SHA256.HashData(buffer[..written], hash);
        }
        else
        {
            var rented = ArrayPool<byte>.Shared.Rent(max);
            try
            {
                var written = Encoding.UTF8.GetBytes(token, rented);
                SHA256.HashData(rented.AsSpan(0, written), hash);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        return MemoryMarshal.Read<TokenHash>(hash);
    }

    public bool TryGet(in TokenHash key, long trustEpoch, out KubernetesServiceAccount? serviceAccount)
    {
        if (_entries.TryGetValue(key, out var entry))
        {
            if (entry.TrustEpoch == trustEpoch && _time.GetUtcNow() < entry.ExpiresAt)
            {
                serviceAccount = entry.ServiceAccount;
                return true;
            }

            _entries.TryRemove(new KeyValuePair<TokenHash, Entry>(key, entry));
        }

        serviceAccount = null;
        return false;
    }

    public void Add(in TokenHash key, KubernetesServiceAccount serviceAccount, long trustEpoch)
    {
        var now = _time.GetUtcNow();
        var expiresAt = now + _maxAge;
        if (serviceAccount.ExpiresAt is { } exp && exp < expiresAt)
        {
            expiresAt = exp;
        }

        if (_enforceWarnAfter && serviceAccount.WarnAfter is { } warnAfter && warnAfter + _skew < expiresAt)
        {
            expiresAt = warnAfter + _skew;
        }

        if (expiresAt <= now)
        {
            return;
        }

        if (_entries.Count >= _maxEntries)
        {
            Evict(now);
        }

        _entries[key] = new Entry(serviceAccount, expiresAt, trustEpoch);
    }

    public void Remove(in TokenHash key) => _entries.TryRemove(key, out _);

    public int Clear()
    {
        var count = _entries.Count;
        _entries.Clear();
        return count;
    }

    private void Evict(DateTimeOffset now)
    {
        // One thread evicts; the others add meanwhile (the bound may be passed by a few entries).
        if (Interlocked.Exchange(ref _evicting, 1) == 1)
        {
            return;
        }

        try
        {
            foreach (var (key, entry) in _entries)
            {
                if (entry.ExpiresAt <= now)
                {
                    _entries.TryRemove(key, out _);
                }
            }

            // Still full: drop the entries closest to expiry until a tenth of the room is free.
            var excess = _entries.Count - (_maxEntries - Math.Max(1, _maxEntries / 10));
            if (excess > 0)
            {
                foreach (var (key, _) in _entries.OrderBy(e => e.Value.ExpiresAt).Take(excess).ToList())
                {
                    _entries.TryRemove(key, out _);
                }
            }
        }
        finally
        {
            Volatile.Write(ref _evicting, 0);
        }
    }

    private sealed record Entry(KubernetesServiceAccount ServiceAccount, DateTimeOffset ExpiresAt, long TrustEpoch);
}

/// <summary>A SHA-256 digest as a dictionary key.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct TokenHash(ulong A, ulong B, ulong C, ulong D);
