// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using KubeSaAuth.Diagnostics;
using KubeSaAuth.Schemes;
using KubeSaAuth.Tokens;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.TokenReview;

/// <summary>
/// Asks the API server for its verdict on a token that passed local validation
/// (<c>POST /apis/authentication.k8s.io/v1/tokenreviews</c>, as kube-apiserver's webhook token
/// authenticator and kube-rbac-proxy do). Verdicts are cached per token for <c>CacheDuration</c>, never
/// beyond the token's <c>exp</c>; concurrent misses of one token share one review (single flight); at most
/// <c>MaxConcurrency</c> reviews are in flight. With <c>SharedCache</c>, a miss asks the fleet's shared cache
/// (<see cref="TokenReviewSharedCache"/>) before the API server, and a fresh verdict is written there.
/// </summary>
internal sealed class TokenReviewer : ITokenReviewer, IDisposable
{
    internal const string ApiPath = "/apis/authentication.k8s.io/v1/tokenreviews";
    private const int MaxResponseBytes = 256 * 1024;
    private const int MaxCacheEntries = 10_000;
    private const int MaxErrorLength = 200;

    private readonly string _scheme;
    private readonly Uri _address;
    private readonly Func<HttpClient> _client;
    private readonly IReadOnlyList<string> _audiences;
    private readonly TimeSpan _cacheDuration;
    private readonly TimeSpan _sharedLocalDuration;
    private readonly TimeSpan _timeout;
    private readonly bool _fallBack;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TokenReviewMetrics? _metrics;
    private readonly SemaphoreSlim _concurrency;
    private readonly ConcurrentDictionary<string, Verdict> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task<Resolved>> _inFlight = new(StringComparer.Ordinal);
    private readonly TokenReviewSharedCache? _shared;

    public TokenReviewer(string scheme, Uri apiServer, Func<HttpClient> client, KubernetesServiceAccountOptions options, TimeProvider timeProvider, ILogger logger, TokenReviewMetrics? metrics, TokenReviewSharedCache? sharedCache = null)
    {
        _scheme = scheme;
        _address = new Uri(apiServer.GetLeftPart(UriPartial.Authority) + apiServer.AbsolutePath.TrimEnd('/') + ApiPath);
        _client = client;
        _audiences = [.. options.Audiences];
        _cacheDuration = options.TokenReview.CacheDuration;
        _sharedLocalDuration = options.TokenReview.SharedCacheLocalDuration < _cacheDuration ? options.TokenReview.SharedCacheLocalDuration : _cacheDuration;
        _timeout = options.BackchannelTimeout;
        _fallBack = options.TokenReview.FallBackToLocalValidation;
        _time = timeProvider;
        _logger = logger;
        _metrics = metrics;
        _shared = _cacheDuration > TimeSpan.Zero ? sharedCache : null;
        _concurrency = new SemaphoreSlim(options.TokenReview.MaxConcurrency, options.TokenReview.MaxConcurrency);
    }

    public Uri Address => _address;

    internal int CachedVerdicts => _cache.Count;

    internal TokenReviewSharedCache? SharedCache => _shared;

    public async ValueTask<TokenFailure?> ReviewAsync(string token, KubernetesServiceAccount serviceAccount, bool forceFresh, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (!forceFresh && _cache.TryGetValue(token, out var cached))
        {
            if (now < cached.ExpiresAt)
            {
                _metrics?.Record(_scheme, cached.Failure is null ? "authenticated" : "rejected", cache: true);
                if (cached.Failure is null)
                {
                    Log.TokenReviewAuthenticated(_logger, _scheme, serviceAccount.Namespace, serviceAccount.Name, cached: true);
                }

                return cached.Failure;
            }

            _cache.TryRemove(new KeyValuePair<string, Verdict>(token, cached));
        }

        Resolved resolved;
        if (forceFresh)
        {
            // A live review is this request's own: it never joins one that started before it.
            resolved = await ResolveAsync(token, serviceAccount, forceFresh: true, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // Single flight per token: concurrent misses of one token share one shared-cache read and one review.
            // The shared work does not follow any one request's cancellation (the timeouts bound it); each
            // request stops waiting when it is aborted.
            var flight = new TaskCompletionSource<Resolved>(TaskCreationOptions.RunContinuationsAsynchronously);
            var current = _inFlight.GetOrAdd(token, flight.Task);
            if (current == flight.Task)
            {
                _ = RunFlightAsync(flight, token, serviceAccount);
            }
            else
            {
                resolved = await current.WaitAsync(cancellationToken).ConfigureAwait(false);
                return Report(resolved with { Joined = true }, serviceAccount);
            }

            resolved = await current.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        return Report(resolved, serviceAccount);
    }

    public void Dispose() => _concurrency.Dispose();

    private async Task RunFlightAsync(TaskCompletionSource<Resolved> flight, string token, KubernetesServiceAccount serviceAccount)
    {
        try
        {
            flight.TrySetResult(await ResolveAsync(token, serviceAccount, forceFresh: false, CancellationToken.None).ConfigureAwait(false));
        }
        catch (Exception ex)
        {
            flight.TrySetException(ex);
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<string, Task<Resolved>>(token, flight.Task));
        }
    }

    /// <summary>The shared cache (unless <paramref name="forceFresh"/>), else the API server; remembers the verdict.</summary>
    private async Task<Resolved> ResolveAsync(string token, KubernetesServiceAccount serviceAccount, bool forceFresh, CancellationToken cancellationToken)
    {
        var key = _shared?.GetKey(token, RequestedAudiences(serviceAccount));
        if (key is not null && !forceFresh)
        {
            // Read only after local validation succeeded: a shared value can refuse this token, never admit
            // one that local validation refused.
            var shared = await _shared!.ReadAsync(key, serviceAccount, cancellationToken).ConfigureAwait(false);
            if (shared is not null)
            {
                var now = _time.GetUtcNow();
                Remember(token, shared.Failure, shared.ExpiresAt < now + _sharedLocalDuration ? shared.ExpiresAt : now + _sharedLocalDuration, now);
                return new Resolved(new Outcome(shared.Failure, null), FromSharedCache: true, Joined: false);
            }
        }

        var outcome = await AskApiServerAsync(token, serviceAccount, cancellationToken).ConfigureAwait(false);
        if (outcome.Error is null && _cacheDuration > TimeSpan.Zero)
        {
            var now = _time.GetUtcNow();
            var expiresAt = now + _cacheDuration;
            if (serviceAccount.ExpiresAt is { } exp && exp < expiresAt)
            {
                expiresAt = exp;
            }

            // Kept locally for SharedCacheLocalDuration when the fleet holds it (so a refusal written by another
            // replica is seen soon), for CacheDuration when it does not (as without SharedCache).
            var localUntil = expiresAt;
            if (key is not null && await _shared!.WriteAsync(key, outcome.Failure, outcome.User, expiresAt, cancellationToken).ConfigureAwait(false))
            {
                var sharedUntil = now + _sharedLocalDuration;
                localUntil = sharedUntil < expiresAt ? sharedUntil : expiresAt;
            }

            Remember(token, outcome.Failure, localUntil, now);
        }

        return new Resolved(outcome, FromSharedCache: false, Joined: false);
    }

    private async Task<Outcome> AskApiServerAsync(string token, KubernetesServiceAccount serviceAccount, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            // The wait for a slot counts against the timeout too: a flood of new tokens cannot queue forever.
            await _concurrency.WaitAsync(timeout.Token).ConfigureAwait(false);
            try
            {
                return await SendAsync(token, serviceAccount, timeout.Token).ConfigureAwait(false);
            }
            finally
            {
                _concurrency.Release();
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Outcome.Unavailable($"no answer within {_timeout.TotalSeconds:0.###} s (BackchannelTimeout)");
        }
        catch (HttpRequestException ex)
        {
            return Outcome.Unavailable(Backchannel.BackchannelFailure.Describe(ex));
        }
        catch (InvalidOperationException ex)
        {
            // Our own credentials: the Pod's token file is missing or expired (the message says which).
            return Outcome.Unavailable(ex.Message);
        }
    }

    /// <summary>Metrics, logs and the answer for one request.</summary>
    private TokenFailure? Report(Resolved resolved, KubernetesServiceAccount serviceAccount)
    {
        var outcome = resolved.Outcome;
        if (outcome.Error is { } error)
        {
            _metrics?.Record(_scheme, "error", cache: false);
            if (_fallBack)
            {
                Log.TokenReviewUnavailable(_logger, _scheme, _address.ToString(), error, "The token is accepted on local validation alone (FallBackToLocalValidation).");
                return null;
            }

            Log.TokenReviewUnavailable(_logger, _scheme, _address.ToString(), error, "The request is refused (TokenReview fails closed; see FallBackToLocalValidation).");
            return new TokenFailure(KubernetesTokenFailureReason.TokenReviewUnavailable, "the API server could not be asked to review the token", Namespace: serviceAccount.Namespace, ServiceAccount: serviceAccount.Name);
        }

        var cached = resolved.FromSharedCache || resolved.Joined;
        _metrics?.Record(_scheme, outcome.Failure is null ? "authenticated" : "rejected", cache: cached);
        if (outcome.Failure is null)
        {
            Log.TokenReviewAuthenticated(_logger, _scheme, serviceAccount.Namespace, serviceAccount.Name, cached);
        }
        else
        {
            Log.TokenReviewRejected(_logger, _scheme, serviceAccount.Namespace, serviceAccount.Name, outcome.Failure.LogDescription);
        }

        return outcome.Failure;
    }

    private void Remember(string token, TokenFailure? failure, DateTimeOffset expiresAt, DateTimeOffset now)
    {
        if (expiresAt <= now)
        {
            return;
        }

        if (_cache.Count >= MaxCacheEntries)
        {
            // Bounded: drop what expired; if all are live, start over (each entry lives seconds only).
            foreach (var (key, value) in _cache)
            {
                if (value.ExpiresAt <= now)
                {
                    _cache.TryRemove(key, out _);
                }
            }

            if (_cache.Count >= MaxCacheEntries)
            {
                _cache.Clear();
            }
        }

        _cache[token] = new Verdict(failure, expiresAt);
    }

    private async Task<Outcome> SendAsync(string token, KubernetesServiceAccount serviceAccount, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _address)
        {
            Content = new ByteArrayContent(CreateBody(token, RequestedAudiences(serviceAccount))),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));

        using var response = await _client().SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var hint = response.StatusCode switch
            {
                HttpStatusCode.Unauthorized => " (the API server refused our own service-account token)",
                HttpStatusCode.Forbidden => " (bind the ClusterRole system:auth-delegator to this service account)",
                _ => string.Empty,
            };
            return Outcome.Unavailable($"the API server answered {(int)response.StatusCode} {response.ReasonPhrase}{hint}");
        }

        if (response.Content.Headers.ContentLength > MaxResponseBytes)
        {
            return Outcome.Unavailable($"the answer is larger than {MaxResponseBytes} bytes");
        }

        // Read with a cap: a chunked answer names no length.
        using var body = new MemoryStream();
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (body.Length + read > MaxResponseBytes)
                {
                    return Outcome.Unavailable($"the answer is larger than {MaxResponseBytes} bytes");
                }

                body.Write(chunk, 0, read);
            }
        }

        try
        {
            return Judge(body.GetBuffer().AsMemory(0, (int)body.Length), serviceAccount);
        }
        catch (JsonException)
        {
            return Outcome.Unavailable("the answer is not a TokenReview");
        }
    }

    /// <summary>
    /// The audiences a review of this caller's token asks for: ours for a bound token; none for a legacy token,
    /// which names no audience — asked for ours, the API server (k8s pkg/serviceaccount/jwt.go: a token without
    /// 'aud' has the API server's implicit audiences) would refuse every one of them; asked for none, it checks
    /// its own.
    /// </summary>
    private IReadOnlyList<string> RequestedAudiences(KubernetesServiceAccount serviceAccount) => serviceAccount.IsLegacy ? [] : _audiences;

    /// <summary>
    /// The request body: <c>{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":…,"audiences":[…]}}</c>;
    /// without <c>spec.audiences</c> when <paramref name="audiences"/> is empty (a legacy token).
    /// </summary>
    internal static byte[] CreateBody(string token, IReadOnlyList<string> audiences)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("apiVersion", "authentication.k8s.io/v1");
            writer.WriteString("kind", "TokenReview");
            writer.WriteStartObject("spec");
            writer.WriteString("token", token);
            if (audiences.Count > 0)
            {
                writer.WriteStartArray("audiences");
                foreach (var audience in audiences)
                {
                    writer.WriteStringValue(audience);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private Outcome Judge(ReadOnlyMemory<byte> body, KubernetesServiceAccount serviceAccount)
    {
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("status", out var status) || status.ValueKind != JsonValueKind.Object)
        {
            // k8s: an absent status means the review was not performed, not that the token is fine.
            return root.ValueKind == JsonValueKind.Object && root.TryGetProperty("kind", out var kind) && kind.ValueKind == JsonValueKind.String && kind.GetString() == "TokenReview"
                ? Reject(serviceAccount, "the API server did not authenticate the token")
                : Outcome.Unavailable("the answer is not a TokenReview");
        }

        // authentication/v1: "authenticated" absent means false.
        var authenticated = status.TryGetProperty("authenticated", out var value) && value.ValueKind == JsonValueKind.True;
        if (!authenticated)
        {
            var error = status.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(e.GetString())
                ? Sanitize(e.GetString()!)
                : "the token is not valid";
            // The API server's words say what became of the token (its Pod, Secret or service account deleted),
            // but an audience error names the audiences this service asked for: then the caller gets none of them.
            return Reject(serviceAccount, NamesAnAudience(error)
                ? "the API server did not authenticate the token"
                : $"the API server did not authenticate the token: {error}", $"the API server said: {error}");
        }

        // status.audiences: the intersection of spec.audiences and the token's audiences; it must hold one of ours.
        var granted = new List<string>();
        if (status.TryGetProperty("audiences", out var audiences) && audiences.ValueKind == JsonValueKind.Array)
        {
            foreach (var audience in audiences.EnumerateArray())
            {
                if (audience.ValueKind == JsonValueKind.String && _audiences.Contains(audience.GetString()!, StringComparer.Ordinal))
                {
                    granted.Add(audience.GetString()!);
                }
            }
        }

        // A legacy token was reviewed for the API server's own audiences (no spec.audiences): status.audiences,
        // if any, names those, never ours; the API server's authentication is the verdict.
        if (granted.Count == 0 && !serviceAccount.IsLegacy)
        {
            return Reject(serviceAccount, "the API server authenticated the token for none of the audiences this service accepts",
                $"accepted audiences: [{string.Join(", ", _audiences.Select(a => $"'{a}'"))}]");
        }

        // The API server's user must be the caller local validation found; anything else, or no user at
        // all, is not a confirmation of this caller.
        var username = status.TryGetProperty("user", out var user) && user.ValueKind == JsonValueKind.Object
            && user.TryGetProperty("username", out var name) && name.ValueKind == JsonValueKind.String
            ? name.GetString()
            : null;
        if (username is null)
        {
            return Reject(serviceAccount, $"the API server authenticated the token but named no user; expected '{serviceAccount.Username}'");
        }

        if (!string.Equals(username, serviceAccount.Username, StringComparison.Ordinal))
        {
            return Reject(serviceAccount, $"the API server authenticated the token as '{Sanitize(username)}', not '{serviceAccount.Username}'");
        }

        return new Outcome(null, null, ReadUser(username, user));
    }

    /// <summary>The API server's user (<c>status.user</c>: username, uid, groups, extra), kept with a shared verdict.</summary>
    private static ReviewedUser ReadUser(string username, JsonElement user)
    {
        var uid = user.TryGetProperty("uid", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
        var groups = new List<string>();
        if (user.TryGetProperty("groups", out var g) && g.ValueKind == JsonValueKind.Array)
        {
            foreach (var group in g.EnumerateArray())
            {
                if (group.ValueKind == JsonValueKind.String)
                {
                    groups.Add(group.GetString()!);
                }
            }
        }

        var extra = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        if (user.TryGetProperty("extra", out var x) && x.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in x.EnumerateObject())
            {
                if (property.Value.ValueKind == JsonValueKind.Array)
                {
                    extra[property.Name] = [.. property.Value.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!)];
                }
            }
        }

        return new ReviewedUser(username, uid, groups, extra);
    }

    private static Outcome Reject(KubernetesServiceAccount serviceAccount, string description, string? detail = null) =>
        new(new TokenFailure(KubernetesTokenFailureReason.TokenReviewRejected, description, Namespace: serviceAccount.Namespace, ServiceAccount: serviceAccount.Name, Detail: detail), null);

    /// <summary>Whether the API server's error names one of the audiences this service reviews for (k8s: "token audiences ... is invalid for the target audiences ...").</summary>
    private bool NamesAnAudience(string error)
    {
        foreach (var audience in _audiences)
        {
            if (error.Contains(audience, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
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

    private sealed record Verdict(TokenFailure? Failure, DateTimeOffset ExpiresAt);

    private sealed record Resolved(Outcome Outcome, bool FromSharedCache, bool Joined);

    private sealed record Outcome(TokenFailure? Failure, string? Error, ReviewedUser? User = null)
    {
        public static Outcome Unavailable(string error) => new(null, error);
    }
}
