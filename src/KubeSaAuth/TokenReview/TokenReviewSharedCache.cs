// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KubeSaAuth.Diagnostics;
using KubeSaAuth.Tokens;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.TokenReview;

/// <summary>
/// TokenReview verdicts shared by the replicas of a fleet through the application's <see cref="HybridCache"/>
/// (<c>TokenReview:SharedCache</c>). Only its distributed level (L2, e.g. Redis) is used: the replica's own
/// verdict cache in <see cref="TokenReviewer"/> is the local level, with a lifetime this library bounds
/// (<c>SharedCacheLocalDuration</c>) rather than HybridCache's <c>LocalCacheExpiration</c>.
/// </summary>
/// <remarks>
/// <para>Key: <c>kubesa:tokenreview:v1:{scheme}:{API server}:{SHA-256 of the token and the requested audiences}</c>,
/// never the token. Value: a small JSON document of the verdict, the API server's user and the verdict's
/// expiry, read back with a size cap and strict checks; anything else is ignored.</para>
/// <para>The default HybridCache treats a failing L2 as a miss and logs it itself, and swallows failed
/// writes: so each write of a fresh verdict is read back, and a value that did not stick marks the shared
/// cache unavailable, as does a read or write past <c>SharedCacheTimeout</c> or one that throws. While
/// unavailable (<see cref="RetryAfter"/>) it is not asked at all and the replica keeps its verdicts as long as
/// without SharedCache.</para>
/// <para>Single flight: HybridCache joins concurrent calls for one key within a process, and
/// <see cref="TokenReviewer"/> joins concurrent reviews of one token; HybridCache has no lock across
/// processes, so replicas that miss the same token at the same moment each ask the API server once.</para>
/// </remarks>
internal sealed class TokenReviewSharedCache
{
    internal const string KeyPrefix = "kubesa:tokenreview:v1:";

    /// <summary>The largest value read or written: a verdict with its user is a few hundred bytes.</summary>
    internal const int MaxValueBytes = 16 * 1024;

    internal const int MaxErrorLength = 512;

    /// <summary>How long the shared cache is left alone after it failed.</summary>
    internal static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    private const int FormatVersion = 1;

    private static readonly HybridCacheEntryOptions ReadOptions = new()
    {
        // Read L2 only: no local copy (the reviewer keeps its own), no write-back, and no factory on a miss.
        Flags = HybridCacheEntryFlags.DisableLocalCache | HybridCacheEntryFlags.DisableDistributedCacheWrite | HybridCacheEntryFlags.DisableUnderlyingData,
    };

    private static readonly JsonDocumentOptions ParseOptions = new() { MaxDepth = 6 };

    private readonly HybridCache _cache;
    private readonly string _scheme;
    private readonly string _keyPrefix;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TokenReviewMetrics? _metrics;
    private long _unavailableUntil;
    private int _unavailable;

    public TokenReviewSharedCache(HybridCache cache, string scheme, Uri apiServer, TimeSpan timeout, TimeProvider timeProvider, ILogger logger, TokenReviewMetrics? metrics)
    {
        _cache = cache;
        _scheme = scheme;
        _keyPrefix = KeyPrefix + KeyPart(scheme) + ":" + KeyPart(apiServer.Authority) + ":";
        _timeout = timeout;
        _time = timeProvider;
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>Whether the last operation failed and the shared cache is being left alone.</summary>
    public bool IsUnavailable => Volatile.Read(ref _unavailable) == 1 && _time.GetUtcNow().UtcTicks < Volatile.Read(ref _unavailableUntil);

    /// <summary>The key of a token's verdict: SHA-256 of the token and the audiences the review asks for.</summary>
    public string GetKey(string token, IReadOnlyList<string> audiences)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Append(hash, token);
        foreach (var audience in audiences.Order(StringComparer.Ordinal))
        {
            Append(hash, audience);
        }

        return _keyPrefix + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Reads a verdict; <see langword="null"/> on a miss, an ignored value, or a failing shared cache.</summary>
    public async ValueTask<SharedVerdict?> ReadAsync(string key, KubernetesServiceAccount serviceAccount, CancellationToken cancellationToken)
    {
        if (IsUnavailable)
        {
            _metrics?.RecordShared(_scheme, "read", "skipped");
            return null;
        }

        byte[]? value;
        try
        {
            value = await WithTimeoutAsync(
                token => _cache.GetOrCreateAsync<byte[]?>(key, static _ => default, ReadOptions, tags: null, token),
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
        {
            MarkUnavailable("read", Describe(ex));
            return null;
        }

        if (value is null)
        {
            _metrics?.RecordShared(_scheme, "read", "miss");
            return null;
        }

        var verdict = Parse(value, serviceAccount, _time.GetUtcNow(), out var ignored);
        if (verdict is null)
        {
            _metrics?.RecordShared(_scheme, "read", ignored is null ? "miss" : "ignored");
            if (ignored is not null)
            {
                Log.TokenReviewSharedValueIgnored(_logger, _scheme, ignored);
            }

            return null;
        }

        _metrics?.RecordShared(_scheme, "read", "hit");
        return verdict;
    }

    /// <summary>
    /// Stores a fresh verdict until <paramref name="expiresAt"/> and reads it back. Returns whether the shared
    /// cache holds it (false also when the value is too large to share).
    /// </summary>
    public async ValueTask<bool> WriteAsync(string key, TokenFailure? failure, ReviewedUser? user, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (IsUnavailable || expiresAt <= now)
        {
            _metrics?.RecordShared(_scheme, "write", "skipped");
            return false;
        }

        var value = Serialize(failure, user, expiresAt);
        if (value.Length > MaxValueBytes)
        {
            _metrics?.RecordShared(_scheme, "write", "skipped");
            return false;
        }

        var options = new HybridCacheEntryOptions { Expiration = expiresAt - now, Flags = HybridCacheEntryFlags.DisableLocalCache };
        byte[]? stored;
        try
        {
            await WithTimeoutAsync(
                async token =>
                {
                    await _cache.SetAsync(key, value, options, tags: null, token).ConfigureAwait(false);
                    return true;
                },
                cancellationToken).ConfigureAwait(false);

            // The default HybridCache swallows a failed L2 write: reading it back is the only way to know.
            stored = await WithTimeoutAsync(
                token => _cache.GetOrCreateAsync<byte[]?>(key, static _ => default, ReadOptions, tags: null, token),
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
        {
            MarkUnavailable("write", Describe(ex));
            return false;
        }

        if (stored is null)
        {
            MarkUnavailable("write", "the verdict written could not be read back (is a distributed cache registered for HybridCache, and reachable?)");
            return false;
        }

        _metrics?.RecordShared(_scheme, "write", "written");
        if (Interlocked.Exchange(ref _unavailable, 0) == 1)
        {
            Log.TokenReviewSharedCacheRecovered(_logger, _scheme);
        }

        return true;
    }

    /// <summary>The stored form: <c>{"v":1,"authenticated":…,"expires":unix ms,"user":{…}|"error":…}</c>.</summary>
    internal static byte[] Serialize(TokenFailure? failure, ReviewedUser? user, DateTimeOffset expiresAt)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("v", FormatVersion);
            writer.WriteBoolean("authenticated", failure is null);
            writer.WriteNumber("expires", expiresAt.ToUnixTimeMilliseconds());
            if (failure is not null)
            {
                writer.WriteString("error", failure.Description);
            }
            else if (user is not null)
            {
                writer.WriteStartObject("user");
                writer.WriteString("username", user.Username);
                if (user.Uid is not null)
                {
                    writer.WriteString("uid", user.Uid);
                }

                writer.WriteStartArray("groups");
                foreach (var group in user.Groups)
                {
                    writer.WriteStringValue(group);
                }

                writer.WriteEndArray();
                writer.WriteStartObject("extra");
                foreach (var (name, values) in user.Extra)
                {
                    writer.WriteStartArray(name);
                    foreach (var item in values)
                    {
                        writer.WriteStringValue(item);
                    }

                    writer.WriteEndArray();
                }

                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// Reads a stored value, or returns <see langword="null"/> with why it was ignored (<paramref name="ignored"/>
    /// stays null when it has merely expired). A value can confirm only the caller local validation found.
    /// </summary>
    internal static SharedVerdict? Parse(byte[] value, KubernetesServiceAccount serviceAccount, DateTimeOffset now, out string? ignored)
    {
        ignored = null;
        if (value.Length > MaxValueBytes)
        {
            ignored = $"it is larger than {MaxValueBytes} bytes";
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(value, ParseOptions);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("v", out var version) || version.ValueKind != JsonValueKind.Number || !version.TryGetInt32(out var v) || v != FormatVersion
                || !root.TryGetProperty("authenticated", out var authenticated) || (authenticated.ValueKind != JsonValueKind.True && authenticated.ValueKind != JsonValueKind.False)
                || !root.TryGetProperty("expires", out var expires) || expires.ValueKind != JsonValueKind.Number || !expires.TryGetInt64(out var expiresMs)
                || expiresMs < 0 || expiresMs > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
            {
                ignored = "it is not a verdict of this version";
                return null;
            }

            var expiresAt = DateTimeOffset.FromUnixTimeMilliseconds(expiresMs);

            // Never past the token's own exp, whatever the value says.
            if (serviceAccount.ExpiresAt is { } exp && exp < expiresAt)
            {
                expiresAt = exp;
            }

            if (expiresAt <= now)
            {
                return null;
            }

            if (authenticated.ValueKind == JsonValueKind.False)
            {
                if (!root.TryGetProperty("error", out var error) || error.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(error.GetString()))
                {
                    ignored = "a refusal without its error";
                    return null;
                }

                var description = Sanitize(error.GetString()!);
                return new SharedVerdict(
                    new TokenFailure(KubernetesTokenFailureReason.TokenReviewRejected, description, Namespace: serviceAccount.Namespace, ServiceAccount: serviceAccount.Name),
                    expiresAt);
            }

            // A confirmation must name the very caller local validation found (the key is this token's hash, so
            // anything else was not written by a replica of this fleet).
            if (!root.TryGetProperty("user", out var user) || user.ValueKind != JsonValueKind.Object
                || !user.TryGetProperty("username", out var username) || username.ValueKind != JsonValueKind.String
                || !string.Equals(username.GetString(), serviceAccount.Username, StringComparison.Ordinal))
            {
                ignored = "a confirmation that does not name the caller";
                return null;
            }

            return new SharedVerdict(null, expiresAt);
        }
        catch (JsonException)
        {
            ignored = "it is not JSON";
            return null;
        }
    }

    private async ValueTask<T> WithTimeoutAsync<T>(Func<CancellationToken, ValueTask<T>> operation, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);

        // WaitAsync as well as the token: a cache that ignores cancellation cannot hold the request either.
        return await operation(timeout.Token).AsTask().WaitAsync(timeout.Token).ConfigureAwait(false);
    }

    private void MarkUnavailable(string operation, string error)
    {
        _metrics?.RecordShared(_scheme, operation, "unavailable");
        Volatile.Write(ref _unavailableUntil, (_time.GetUtcNow() + RetryAfter).UtcTicks);
        if (Interlocked.Exchange(ref _unavailable, 1) == 0)
        {
            Log.TokenReviewSharedCacheUnavailable(_logger, _scheme, operation, error, RetryAfter.TotalSeconds);
        }
    }

    private string Describe(Exception ex) => ex is OperationCanceledException or TimeoutException
        ? $"no answer within {_timeout.TotalMilliseconds:0} ms (SharedCacheTimeout)"
        : $"{ex.GetType().Name}: {Sanitize(ex.Message)}";

    private static void Append(IncrementalHash hash, string value)
    {
        // Length-prefixed, so that no two lists of strings hash alike.
        var bytes = Encoding.UTF8.GetBytes(value);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
        hash.AppendData(length);
        hash.AppendData(bytes);
    }

    private static string KeyPart(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' ? c : '_');
        }

        return builder.ToString();
    }

    private static string Sanitize(string value)
    {
        var builder = new StringBuilder(Math.Min(value.Length, MaxErrorLength));
        foreach (var c in value.AsSpan(0, Math.Min(value.Length, MaxErrorLength)))
        {
            builder.Append(char.IsControl(c) ? ' ' : c);
        }

        return builder.ToString();
    }
}
