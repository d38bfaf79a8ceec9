// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace KubeSaAuth.Client;

/// <summary>
/// A service-account token read from a file and kept in memory: read again every
/// <see cref="ServiceAccountTokenSourceOptions.RefreshInterval"/> (the kubelet rotates the file by swapping
/// a symlink), when the cached token nears its <c>exp</c>, or on <see cref="Reload"/>. Never returns a
/// token past its <c>exp</c>. Thread-safe; between reads, <see cref="GetToken"/> does no I/O.
/// </summary>
public sealed class ServiceAccountTokenSource
{
    // A real token is about 1 KiB; a file far larger is not a token.
    private const int MaxTokenFileBytes = 64 * 1024;

    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _refreshInterval;
    private readonly TimeSpan _margin;
    private volatile CachedToken? _cached;
    private long _reads;

    /// <summary>Creates a source reading <paramref name="path"/>.</summary>
    /// <param name="path">The token file.</param>
    /// <param name="timeProvider">The clock; default the system clock.</param>
    public ServiceAccountTokenSource(string path, TimeProvider? timeProvider = null)
        : this(new ServiceAccountTokenSourceOptions { Path = path, TimeProvider = timeProvider })
    {
    }

    /// <summary>Creates a source from <paramref name="options"/>.</summary>
    /// <param name="options">The options.</param>
    public ServiceAccountTokenSource(ServiceAccountTokenSourceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Path);
        if (options.RefreshInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"The '{nameof(options.RefreshInterval)}' option ({options.RefreshInterval}) must be positive.", nameof(options));
        }

        if (options.ExpirationMargin < TimeSpan.Zero)
        {
            throw new ArgumentException($"The '{nameof(options.ExpirationMargin)}' option ({options.ExpirationMargin}) must not be negative.", nameof(options));
        }

        Path = options.Path;
        _refreshInterval = options.RefreshInterval;
        _margin = options.ExpirationMargin;
        _time = options.TimeProvider ?? TimeProvider.System;
    }

    /// <summary>The token file.</summary>
    public string Path { get; }

    /// <summary>How many times the file was read (for tests and diagnostics).</summary>
    internal long Reads => Interlocked.Read(ref _reads);

    /// <summary>
    /// The current token: from memory while it is fresh, otherwise read from the file.
    /// </summary>
    /// <returns>The token.</returns>
    /// <exception cref="InvalidOperationException">The file is missing, empty or unreadable, or holds only an expired token.</exception>
    public string GetToken()
    {
        var now = _time.GetUtcNow();
        var cached = _cached;
        if (cached is not null && now < cached.NextCheck && !cached.IsExpired(now))
        {
            return cached.Token;
        }

        lock (_gate)
        {
            cached = _cached;
            if (cached is not null && now < cached.NextCheck && !cached.IsExpired(now))
            {
                return cached.Token;
            }

            return ReadLocked(now, cached).Token;
        }
    }

    /// <summary>
    /// Reads the file now (after the server refused the token: the kubelet may have rotated it already).
    /// </summary>
    /// <returns>Whether the token changed.</returns>
    /// <exception cref="InvalidOperationException">The file is missing, empty or unreadable, or holds only an expired token.</exception>
    public bool Reload()
    {
        lock (_gate)
        {
            var previous = _cached;
            var current = ReadLocked(_time.GetUtcNow(), previous: null);
            return previous is null || !string.Equals(previous.Token, current.Token, StringComparison.Ordinal);
        }
    }

    private CachedToken ReadLocked(DateTimeOffset now, CachedToken? previous)
    {
        string token;
        try
        {
            token = ReadFile();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A failed re-read (mid-swap, transient) keeps serving a token that is still valid.
            if (previous is not null && !previous.IsExpired(now))
            {
                _cached = previous with { NextCheck = now + _refreshInterval };
                return _cached;
            }

            throw new InvalidOperationException(ex is FileNotFoundException or DirectoryNotFoundException
                ? $"The service-account token file '{Path}' does not exist: not running in a Pod, or the token volume is not mounted?"
                : $"The service-account token file '{Path}' could not be read: {ex.Message}", ex);
        }

        var expiresAt = ReadExpiration(token);
        var fresh = new CachedToken(token, expiresAt - _margin, now + _refreshInterval);
        if (fresh.IsExpired(now))
        {
            throw new InvalidOperationException($"The service-account token in '{Path}' expired at {expiresAt:o} and the file was not rotated: is the kubelet refreshing it?");
        }

        _cached = fresh;
        return fresh;
    }

    private string ReadFile()
    {
        Interlocked.Increment(ref _reads);

        // Opening the path resolves the kubelet's ..data symlink at this moment, so a swap is atomic for us.
        using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
        var buffer = new byte[MaxTokenFileBytes + 1];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = stream.Read(buffer, length, buffer.Length - length)) > 0)
        {
            length += read;
        }

        if (length > MaxTokenFileBytes)
        {
            throw new IOException($"the file is larger than {MaxTokenFileBytes} bytes");
        }

        var token = Encoding.UTF8.GetString(buffer, 0, length).Trim();
        if (token.Length == 0)
        {
            throw new IOException("the file is empty");
        }

        return token;
    }

    /// <summary>The token's <c>exp</c>; <see cref="DateTimeOffset.MaxValue"/> when it has none or is not a JWT.</summary>
    internal static DateTimeOffset ReadExpiration(string token)
    {
        var first = token.IndexOf('.', StringComparison.Ordinal);
        var second = first < 0 ? -1 : token.IndexOf('.', first + 1);
        if (second < 0)
        {
            return DateTimeOffset.MaxValue;
        }

        try
        {
            var payload = Base64Url.DecodeFromChars(token.AsSpan(first + 1, second - first - 1));
            using var document = JsonDocument.Parse(payload);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("exp", out var exp)
                && exp.ValueKind == JsonValueKind.Number
                && exp.TryGetInt64(out var seconds)
                && seconds is > 0 and < 253402300799)
            {
                return DateTimeOffset.FromUnixTimeSeconds(seconds);
            }
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            // Not a JWT we can read: the server will judge it.
        }

        return DateTimeOffset.MaxValue;
    }

    private sealed record CachedToken(string Token, DateTimeOffset UsableUntil, DateTimeOffset NextCheck)
    {
        public bool IsExpired(DateTimeOffset now) => now >= UsableUntil;
    }
}
