// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Caching;

namespace KubeSaAuth;

/// <summary>
/// Options of the cache of validated tokens. A Pod presents the same token for most of an hour, so most
/// requests repeat a token already verified; the cache skips parsing and signature verification for
/// them. Entries expire with the token, at <see cref="MaxAge"/>, and as soon as a key is removed from
/// the key set. Failures are never cached.
/// </summary>
public sealed class KubernetesValidationCacheOptions
{
    /// <summary>Whether validated tokens are cached.</summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>The largest number of tokens held; past it, expired entries are evicted first, then those closest to expiry.</summary>
    /// <value>Default 10000.</value>
    public int MaxEntries { get; set; } = 10_000;

    /// <summary>The longest a validated token is reused without validating it again.</summary>
    /// <value>Default 5 minutes.</value>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The largest <see cref="MaxAge"/> accepted: longer than any bound token lives by default.</summary>
    internal static readonly TimeSpan MaximumMaxAge = TimeSpan.FromDays(1);

    internal string? GetValidationError()
    {
        if (MaxEntries < 1)
        {
            return $"The 'ValidationCache:{nameof(MaxEntries)}' option ({MaxEntries}) must be at least 1.";
        }

        if (MaxAge <= TimeSpan.Zero || MaxAge > MaximumMaxAge)
        {
            return $"The 'ValidationCache:{nameof(MaxAge)}' option ({MaxAge}) must be positive and at most {MaximumMaxAge} (a token is reused at most until its expiry anyway).";
        }

        return null;
    }
}
