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
/// beyond the token's <c>exp</c>; at most <c>MaxConcurrency</c> reviews are in flight.
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
    private readonly TimeSpan _timeout;
    private readonly bool _fallBack;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TokenReviewMetrics? _metrics;
    private readonly SemaphoreSlim _concurrency;
    private readonly ConcurrentDictionary<string, Verdict> _cache = new(StringComparer.Ordinal);

    public TokenReviewer(string scheme, Uri apiServer, Func<HttpClient> client, KubernetesServiceAccountOptions options, TimeProvider timeProvider, ILogger logger, TokenReviewMetrics? metrics)
    {
        _scheme = scheme;
        _address = new Uri(apiServer.GetLeftPart(UriPartial.Authority) + apiServer.AbsolutePath.TrimEnd('/') + ApiPath);
        _client = client;
        _audiences = [.. options.Audiences];
        _cacheDuration = options.TokenReview.CacheDuration;
        _timeout = options.BackchannelTimeout;
        _fallBack = options.TokenReview.FallBackToLocalValidation;
        _time = timeProvider;
        _logger = logger;
        _metrics = metrics;
        _concurrency = new SemaphoreSlim(options.TokenReview.MaxConcurrency, options.TokenReview.MaxConcurrency);
    }

    public Uri Address => _address;

    internal int CachedVerdicts => _cache.Count;

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

        Outcome outcome;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(_timeout);
            try
            {
                // The wait for a slot counts against the timeout too: a flood of new tokens cannot queue forever.
                await _concurrency.WaitAsync(timeout.Token).ConfigureAwait(false);
                try
                {
                    outcome = await SendAsync(token, serviceAccount, timeout.Token).ConfigureAwait(false);
                }
                finally
                {
                    _concurrency.Release();
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                outcome = Outcome.Unavailable($"no answer within {_timeout.TotalSeconds:0.###} s (BackchannelTimeout)");
            }
            catch (HttpRequestException ex)
            {
                outcome = Outcome.Unavailable($"request failed: {ex.Message}");
            }
            catch (InvalidOperationException ex)
            {
                // Our own credentials: the Pod's token file is missing or expired (the message says which).
                outcome = Outcome.Unavailable(ex.Message);
            }
        }

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

        _metrics?.Record(_scheme, outcome.Failure is null ? "authenticated" : "rejected", cache: false);
        if (outcome.Failure is null)
        {
            Log.TokenReviewAuthenticated(_logger, _scheme, serviceAccount.Namespace, serviceAccount.Name, cached: false);
        }
        else
        {
            Log.TokenReviewRejected(_logger, _scheme, serviceAccount.Namespace, serviceAccount.Name, outcome.Failure.Description);
        }

        Remember(token, outcome.Failure, serviceAccount, now);
        return outcome.Failure;
    }

    public void Dispose() => _concurrency.Dispose();

    private void Remember(string token, TokenFailure? failure, KubernetesServiceAccount serviceAccount, DateTimeOffset now)
    {
        if (_cacheDuration <= TimeSpan.Zero)
        {
            return;
        }

        var expiresAt = now + _cacheDuration;
        if (serviceAccount.ExpiresAt is { } exp && exp < expiresAt)
        {
            expiresAt = exp;
        }

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
            Content = new ByteArrayContent(CreateBody(token, _audiences)),
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

    /// <summary>The request body: <c>{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":…,"audiences":[…]}}</c>.</summary>
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
            writer.WriteStartArray("audiences");
            foreach (var audience in audiences)
            {
                writer.WriteStringValue(audience);
            }

            writer.WriteEndArray();
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
            return Reject(serviceAccount, $"the API server did not authenticate the token: {error}");
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

        if (granted.Count == 0)
        {
            return Reject(serviceAccount, $"the API server authenticated the token for none of the audiences [{string.Join(", ", _audiences.Select(a => $"'{a}'"))}]");
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

        return new Outcome(null, null);
    }

    private static Outcome Reject(KubernetesServiceAccount serviceAccount, string description) =>
        new(new TokenFailure(KubernetesTokenFailureReason.TokenReviewRejected, description, Namespace: serviceAccount.Namespace, ServiceAccount: serviceAccount.Name), null);

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

    private sealed record Outcome(TokenFailure? Failure, string? Error)
    {
        public static Outcome Unavailable(string error) => new(null, error);
    }
}
