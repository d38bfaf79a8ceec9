// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using KubeSaAuth.Caching;
using KubeSaAuth.Diagnostics;
using KubeSaAuth.Schemes;
using KubeSaAuth.TokenReview;
using KubeSaAuth.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace KubeSaAuth;

/// <summary>
/// Authenticates requests bearing a Kubernetes service-account token. Order as
/// <c>JwtBearerHandler.HandleAuthenticateAsync</c>: MessageReceived → read header → validate (cache,
/// rules, keys) → TokenValidated → Success; failures → AuthenticationFailed → Fail.
/// </summary>
internal sealed class KubernetesServiceAccountHandler(
    IOptionsMonitor<KubernetesServiceAccountOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    KubeSaAuthTelemetry telemetry,
    SchemeRuntimeFactory runtimes,
    IssuerRouter router)
    : AuthenticationHandler<KubernetesServiceAccountOptions>(options, logger, encoder)
{
    private const string BearerPrefix = "Bearer ";

    // The compiler caches the default (non-capturing) event lambdas: every default instance shares them.
    private static readonly KubernetesServiceAccountEvents DefaultEvents = new();

    /// <summary>Set by an authorization requirement that wants the API server's verdict now, not a cached one.</summary>
    internal const string ForceTokenReviewItem = "KubeSaAuth.ForceTokenReview";

    private new KubernetesServiceAccountEvents Events
    {
        get => (KubernetesServiceAccountEvents)base.Events!;
        set => base.Events = value;
    }

    protected override Task<object> CreateEventsAsync() => Task.FromResult<object>(new KubernetesServiceAccountEvents());

    // The span of this request's token, when something listens to the activity source (a handler serves one request).
    private Activity? _activity;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        try
        {
            return await AuthenticateCoreAsync();
        }
        finally
        {
            _activity?.Dispose();
        }
    }

    /// <summary>Starts the span of a token this scheme judges (never one it leaves to another scheme); no cost without a listener.</summary>
    private void StartSpan()
    {
        if (_activity is null && KubeSaAuthTelemetry.ActivitySource.HasListeners())
        {
            _activity = KubeSaAuthTelemetry.ActivitySource.StartActivity(KubeSaAuthTelemetry.ValidateTokenSpan);
        }
    }

    private async ValueTask<AuthenticateResult> AuthenticateCoreAsync()
    {
        // Read the clock only when someone listens to the duration histogram (0: not timed).
        var started = telemetry.ValidationDuration.Enabled ? Stopwatch.GetTimestamp() : 0;
        var events = Events;
        string? token = null;
        if (!IsDefault(events, out var defaultTokenValidated))
        {
            var messageReceived = new KubernetesMessageReceivedContext(Context, Scheme, Options);
            await events.MessageReceived(messageReceived);
            if (messageReceived.Result is not null)
            {
                return messageReceived.Result;
            }

            token = messageReceived.Token;
        }

        // As JwtBearerHandler: an event that leaves Token null or empty lets the header speak.
        if (string.IsNullOrEmpty(token))
        {
            token = null;
        }

        // The token is located in the header and looked up in the cache as a span: a cache hit copies nothing.
        var source = token;
        var tokenStart = 0;
        var tokenLength = token?.Length ?? 0;
        if (token is null)
        {
            var headerFailure = ReadBearerToken(out source, out tokenStart, out tokenLength);
            if (headerFailure is not null)
            {
                // The same header for every Kubernetes scheme: one of them refuses it.
                return ClaimRefusal() ? await FailAsync(headerFailure, started, cacheHit: false) : LeaveToOthers(null);
            }

            if (source is null)
            {
                Log.NoBearerToken(Logger);
                return AuthenticateResult.NoResult();
            }
        }

        // Non-null here: either the event's token or the header value.
        var value = source!;
        var runtime = runtimes.GetOrCreate(Scheme.Name, Options);
        var cache = runtime.Cache;
        KubernetesServiceAccount? serviceAccount = null;

        // One cache for the scheme's clusters: a hit names the cluster that validated it, whose keys in hand
        // (trust epoch) it must still match; no routing, whatever the number of clusters.
        ITrustEpochSource? owner = null;
        var cacheHit = cache is not null && cache.TryGet(value.AsSpan(tokenStart, tokenLength), out serviceAccount, out owner);
        var cluster = owner as ClusterRuntime;
        if (cacheHit)
        {
            StartSpan();
        }
        try
        {
            if (!cacheHit)
            {
                // Checked only on a miss: a hit is the exact text of a token validated before, which is
                // base64url and dots, so it cannot hold a second token.
                if (token is null && value.AsSpan(tokenStart, tokenLength).ContainsAny(' ', '\t', ','))
                {
                    return ClaimRefusal()
                        ? await FailAsync(new TokenFailure(KubernetesTokenFailureReason.InvalidAuthorizationHeader, "the Authorization header must be 'Bearer <token>' with a single token"), started, cacheHit: false)
                        : LeaveToOthers(null);
                }

                token ??= tokenStart == 0 && tokenLength == value.Length ? value : value.Substring(tokenStart, tokenLength);

                // Which cluster (of which scheme) judges it, from its issuer, before any key work (Schemes/IssuerRouter).
                var state = KubernetesRequestState.Get(Context);
                if (!state.TryGetParsed(token, out var parsed, out var parseFailure) || (parsed is not null && token.Length > Options.MaxTokenSize))
                {
                    parsed = runtime.Validator.Parse(token, out parseFailure);
                    state.SetParsed(token, parsed, parseFailure);
                }

                var route = await router.RouteAsync(Scheme.Name, parsed, Context.RequestAborted);
                if (route.Kind is RouteKind.Mine or RouteKind.Pending)
                {
                    StartSpan();
                }

                switch (route.Kind)
                {
                    case RouteKind.Other:
                        return LeaveToOthers(route.Judges);
                    case RouteKind.Unroutable:
                        return ClaimRefusal() ? await FailAsync(parseFailure!, started, cacheHit: false) : LeaveToOthers(null);
                    case RouteKind.Nobody when !ClaimRefusal():
                        return LeaveToOthers(null);
                    case RouteKind.Nobody when route.Shape == TokenShape.Bound:
                        return await FailAsync(FindForgery(runtime, token, parsed!.Value) ?? await router.RefuseUnclaimedAsync(parsed.Value), started, cacheHit: false);
                }

                cluster = route.Cluster ?? runtime.Primary;

                // Mine, Pending (learns its issuer from discovery), or Nobody for a legacy or foreign token, whose
                // refusal the rules word best (legacy tokens refused, not a service-account token).
                StartSpan();
                var outcome = await cluster.Validator.ValidateAsync(token, parsed!.Value, Context.RequestAborted);
                if (outcome.Failure is not null)
                {
                    if (route.Kind == RouteKind.Pending && outcome.Failure.Reason == KubernetesTokenFailureReason.InvalidIssuer)
                    {
                        // Its discovery document named another issuer: route again, now that it is known.
                        var again = await router.RouteAsync(Scheme.Name, parsed);
                        if (again.Kind == RouteKind.Other)
                        {
                            return LeaveToOthers(again.Judges);
                        }

                        if (again.Kind == RouteKind.Nobody)
                        {
                            return ClaimRefusal() ? await FailAsync(FindForgery(runtime, token, parsed.Value) ?? await router.RefuseUnclaimedAsync(parsed.Value), started, cacheHit: false) : LeaveToOthers(null);
                        }
                    }

                    return await FailAsync(outcome.Failure, started, cacheHit: false);
                }

                serviceAccount = outcome.ServiceAccount!;
                if (cluster.View is { } clusterView)
                {
                    // The typed view reads its labels live from the cluster view (cached with the token, set once).
                    serviceAccount = serviceAccount with { View = clusterView };
                }
                if (outcome.PastWarnAfter)
                {
                    Log.TokenPastWarnAfter(Logger, serviceAccount.Namespace, serviceAccount.Name, serviceAccount.WarnAfter!.Value);
                }

                // Cached on its second successful validation only (see ValidationCache); never a failure.
                if (cache is not null && cache.AddValidated(token, serviceAccount, outcome.TrustEpoch, cluster))
                {
                    Log.TokenCached(Logger, serviceAccount.Namespace, serviceAccount.Name);
                }
            }

            if (cluster!.View is { } view)
            {
                // Revocation at watch speed, also for a cached token: a memory lookup (a GET only for an object
                // the view does not know yet). k8s pkg/serviceaccount/claims.go: the Pod and ServiceAccount must
                // still exist with the token's uids.
                var check = view.CheckAsync(serviceAccount!, Context.RequestAborted);
                var gone = check.IsCompletedSuccessfully ? check.Result : await check;
                if (gone is not null)
                {
                    return await FailAsync(gone, started, cacheHit);
                }
            }

            if (cluster.Reviewer is { } reviewer)
            {
                token ??= tokenStart == 0 && tokenLength == value.Length ? value : value.Substring(tokenStart, tokenLength);
                var forceFresh = Context.Items.ContainsKey(ForceTokenReviewItem) || KubernetesLiveTokenReview.IsRequired(Context);
                var reviewFailure = await reviewer.ReviewAsync(token, serviceAccount!, forceFresh, Context.RequestAborted);
                if (reviewFailure is not null)
                {
                    // The API server's verdict overrides the cached one at once.
                    if (cache is not null && cache.Remove(token))
                    {
                        Log.TokenUncachedByReview(Logger, serviceAccount!.Namespace, serviceAccount.Name);
                    }

                    return await FailAsync(reviewFailure with { IsLegacy = serviceAccount!.IsLegacy }, started, cacheHit);
                }

                if (forceFresh)
                {
                    KubernetesLiveTokenReview.MarkReviewed(Context, Scheme.Name);
                }
            }
        }
        catch (OperationCanceledException) when (Context.RequestAborted.IsCancellationRequested)
        {
            return AuthenticateResult.Fail("The request was aborted.");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Anything unexpected still ends in a 401, never a 500: the client sent a token we could not judge.
            Log.UnexpectedValidationError(Logger, ex);
            return await FailAsync(new TokenFailure(KubernetesTokenFailureReason.Malformed, "the token could not be validated"), started, cacheHit);
        }

        if (serviceAccount!.IsLegacy)
        {
            Log.LegacyTokenAccepted(Logger, serviceAccount.Namespace, serviceAccount.Name);
        }

        // A fresh principal per request, over the immutable (possibly cached) service account.
        var principal = new ClaimsPrincipal(new KubernetesClaimsIdentity(serviceAccount, Scheme.Name, Options.NameClaimType, Options.RoleClaimType));

        // As JwtBearerHandler: the token in the ticket's properties, for GetTokenAsync("access_token"). Only then is
        // a cache hit's token copied out of the header.
        AuthenticationProperties? properties = null;
        if (Options.SaveToken)
        {
            token ??= tokenStart == 0 && tokenLength == value.Length ? value : value.Substring(tokenStart, tokenLength);
            properties = new AuthenticationProperties();
            properties.StoreTokens([new AuthenticationToken { Name = "access_token", Value = token }]);
        }

        AuthenticateResult result;
        if (defaultTokenValidated)
        {
            result = AuthenticateResult.Success(properties is null ? new AuthenticationTicket(principal, Scheme.Name) : new AuthenticationTicket(principal, properties, Scheme.Name));
        }
        else
        {
            var validated = new KubernetesTokenValidatedContext(Context, Scheme, Options, serviceAccount) { Principal = principal };
            if (properties is not null)
            {
                validated.Properties = properties;
            }

            await events.TokenValidated(validated);
            if (validated.Result is not null)
            {
                if (!validated.Result.Succeeded)
                {
                    Record(started, "failure", KubernetesTokenFailureReason.RejectedByEvent.ToString(), serviceAccount.IsLegacy, cacheHit, serviceAccount.Cluster);
                    TagSpan("failure", KubernetesTokenFailureReason.RejectedByEvent, cacheHit, serviceAccount.Cluster, serviceAccount.Namespace, serviceAccount.Name);
                }

                return validated.Result;
            }

            validated.Success();
            result = validated.Result!;
        }

        Log.TokenValidated(Logger, serviceAccount.Namespace, serviceAccount.Name, serviceAccount.IsLegacy ? KubernetesClaimTypes.LegacyTokenKind : KubernetesClaimTypes.BoundTokenKind, serviceAccount.PodName, serviceAccount.Cluster);
        Record(started, "success", null, serviceAccount.IsLegacy, cacheHit, serviceAccount.Cluster);
        TagSpan("success", null, cacheHit, serviceAccount.Cluster, serviceAccount.Namespace, serviceAccount.Name);
        return result;
    }

    /// <summary>
    /// A forgery that a key already in hand of one of the scheme's clusters proves (a tampered <c>iss</c>
    /// naming no cluster), checked before refusing the token as unclaimed; never a fetch.
    /// </summary>
    private static TokenFailure? FindForgery(SchemeRuntime runtime, string token, ParsedToken parsed)
    {
        foreach (var cluster in runtime.Clusters)
        {
            if (cluster.Validator.FindForgery(token, parsed) is { } forged)
            {
                return forged;
            }
        }

        return null;
    }

    /// <summary>
    /// Whether this scheme gives the one refusal of a token (or header) that no scheme claims: the first
    /// Kubernetes scheme to see it in the request does; every other one answers NoResult.
    /// </summary>
    private bool ClaimRefusal()
    {
        var state = KubernetesRequestState.Get(Context);
        state.Refuser ??= Scheme.Name;
        return string.Equals(state.Refuser, Scheme.Name, StringComparison.Ordinal);
    }

    /// <summary>NoResult for a token another scheme judges: no key work, no refusal log above Debug, no failure metric.</summary>
    private AuthenticateResult LeaveToOthers(IReadOnlyList<string>? judges)
    {
        // A span started before the token's issuer was known (discovery pending) says it went elsewhere.
        _activity?.SetTag(KubeSaAuthTelemetry.ResultTag, "other-scheme");

        if (Logger.IsEnabled(LogLevel.Debug))
        {
            Log.TokenLeftToOtherScheme(Logger, Scheme.Name, judges is null ? KubernetesRequestState.Find(Context)?.Refuser ?? "(none)" : string.Join(", ", judges));
        }

        return AuthenticateResult.NoResult();
    }

    /// <summary>
    /// Whether the events are the defaults (no handler set): then no MessageReceived or TokenValidated
    /// context is allocated, since nothing would read it. <paramref name="defaultTokenValidated"/> says the
    /// same of TokenValidated alone.
    /// </summary>
    private static bool IsDefault(KubernetesServiceAccountEvents events, out bool defaultTokenValidated)
    {
        if (events.GetType() != typeof(KubernetesServiceAccountEvents))
        {
            defaultTokenValidated = false;
            return false;
        }

        defaultTokenValidated = ReferenceEquals(events.OnTokenValidated, DefaultEvents.OnTokenValidated);
        return ReferenceEquals(events.OnMessageReceived, DefaultEvents.OnMessageReceived);
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var authResult = await HandleAuthenticateOnceSafeAsync();
        var state = KubernetesRequestState.Get(Context);
        if (state.Challenged)
        {
            // One Bearer challenge per response (RFC 6750 §3), however many Kubernetes schemes the policy names.
            return;
        }

        state.Challenged = true;
        var challenge = new KubernetesChallengeContext(Context, Scheme, Options, properties)
        {
            // This scheme's failure, or that of the scheme that judged the token when this one left it alone.
            AuthenticateFailure = authResult?.Failure ?? state.Failure,
        };

        if (challenge.AuthenticateFailure is not null)
        {
            // RFC 6750 §3.1: a request with a token that could not be used gets error="invalid_token"
            // (invalid_request for an unusable Authorization header); the description is optional.
            challenge.Error = challenge.AuthenticateFailure is KubernetesTokenException { Reason: KubernetesTokenFailureReason.InvalidAuthorizationHeader }
                ? "invalid_request"
                : "invalid_token";
            if (Options.IncludeErrorDetails)
            {
                challenge.ErrorDescription = challenge.AuthenticateFailure.Message;
            }
        }

        await Events.Challenge(challenge);
        if (challenge.Handled)
        {
            return;
        }

        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.Append(HeaderNames.WWWAuthenticate, BuildChallenge(challenge.Error, challenge.ErrorDescription));
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        // ASP.NET Core forbids with every scheme of the policy: the first Kubernetes scheme reports the 403, once.
        var state = KubernetesRequestState.Get(Context);
        var report = !state.ForbiddenReported;
        state.ForbiddenReported = true;
        if (report && telemetry.Forbidden.Enabled)
        {
            var kind = Authorization.KubernetesPolicyKind.Of(state.FailedRequirements, Context.GetEndpoint()?.Metadata);
            telemetry.Forbidden.Add(1, new KeyValuePair<string, object?>("kind", kind), new KeyValuePair<string, object?>("scheme", Scheme.Name));
        }

        var forbidden = new KubernetesForbiddenContext(Context, Scheme, Options);
        await Events.Forbidden(forbidden);
        if (forbidden.Result is not null)
        {
            return;
        }

        if (report && Logger.IsEnabled(LogLevel.Information))
        {
            LogForbidden();
        }

        Response.StatusCode = StatusCodes.Status403Forbidden;
    }

    /// <summary>Who was refused, and by which policy: the endpoint's authorization metadata names it.</summary>
    private void LogForbidden()
    {
        var policy = DescribePolicies(Context.GetEndpoint()?.Metadata);
        foreach (var identity in Context.User.Identities)
        {
            if (identity is KubernetesClaimsIdentity { IsAuthenticated: true } kubernetes)
            {
                var caller = kubernetes.ServiceAccount;
                Log.Forbidden(Logger, caller.Namespace, caller.Name, caller.Cluster, policy);
                return;
            }
        }

        Log.ForbiddenWithoutServiceAccount(Logger, policy);
    }

    /// <summary>The policy names on an endpoint (<c>[Authorize(Policy = ...)]</c>, <c>RequireAuthorization("...")</c>), quoted.</summary>
    internal static string DescribePolicies(EndpointMetadataCollection? metadata)
    {
        var names = new List<string>();
        if (metadata is not null)
        {
            foreach (var data in metadata.GetOrderedMetadata<IAuthorizeData>())
            {
                var name = data.Policy is not null ? $"'{data.Policy}'"
                    : data.Roles is not null ? $"roles '{data.Roles}'"
                    : null;
                if (name is not null && !names.Contains(name))
                {
                    names.Add(name);
                }
            }

            if (names.Count == 0 && metadata.GetMetadata<AuthorizationPolicy>() is not null)
            {
                names.Add("(a policy object given to RequireAuthorization)");
            }
        }

        return names.Count == 0 ? "(the default policy)" : string.Join(" and ", names);
    }

    /// <summary>RFC 6750 §3: <c>Bearer</c>, or <c>Bearer error="…", error_description="…"</c>.</summary>
    internal static string BuildChallenge(string? error, string? description)
    {
        if (string.IsNullOrEmpty(error) && string.IsNullOrEmpty(description))
        {
            return "Bearer";
        }

        var builder = new StringBuilder("Bearer");
        var separator = " ";
        if (!string.IsNullOrEmpty(error))
        {
            builder.Append(separator).Append("error=\"").Append(QuotedValue(error)).Append('"');
            separator = ", ";
        }

        if (!string.IsNullOrEmpty(description))
        {
            builder.Append(separator).Append("error_description=\"").Append(QuotedValue(description)).Append('"');
        }

        return builder.ToString();
    }

    /// <summary>RFC 6750 §3: error and error_description use %x20-21 / %x23-5B / %x5D-7E only; at most 300 characters.</summary>
    private static string QuotedValue(string value)
    {
        var length = Math.Min(value.Length, 300);
        return string.Create(length, value, static (span, source) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                var c = source[i];
                span[i] = c is >= (char)0x20 and <= (char)0x7E and not '"' and not '\\' ? c : '?';
            }
        });
    }

    /// <summary>
    /// Reads <c>Authorization: Bearer &lt;token&gt;</c> as a range of the header value (no copy); a
    /// non-Bearer scheme is left to other handlers (<paramref name="source"/> stays <see langword="null"/>).
    /// </summary>
    private TokenFailure? ReadBearerToken(out string? source, out int start, out int length)
    {
        source = null;
        start = length = 0;
        var headers = Request.Headers.Authorization;
        if (headers.Count == 0)
        {
            return null;
        }

        if (headers.Count > 1)
        {
            return new TokenFailure(KubernetesTokenFailureReason.InvalidAuthorizationHeader, $"the request has {headers.Count} Authorization headers; send exactly one");
        }

        var value = headers[0];
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (value.Equals("Bearer", StringComparison.OrdinalIgnoreCase) || (value.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase) && value.AsSpan(BearerPrefix.Length).Trim().IsEmpty))
        {
            return new TokenFailure(KubernetesTokenFailureReason.InvalidAuthorizationHeader, "the Authorization header has the Bearer scheme but no token");
        }

        if (!value.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            // Basic, Negotiate, ...: not ours.
            return null;
        }

        var rest = value.AsSpan(BearerPrefix.Length);
        // The caller refuses white space or commas inside the token (several tokens) on a cache miss.
        var candidate = rest.Trim();
        source = value;
        start = BearerPrefix.Length + (rest.Length - rest.TrimStart().Length);
        length = candidate.Length;
        return null;
    }

    private async Task<AuthenticateResult> FailAsync(TokenFailure failure, long started, bool cacheHit)
    {
        StartSpan();
        if (_activity is not null)
        {
            // Values from an unverified token: shortened, control characters replaced, as in the log.
            TagSpan("failure", failure.Reason, cacheHit, ClusterOf(failure), KubernetesTokenValidator.ShortenOrNull(failure.Namespace), KubernetesTokenValidator.ShortenOrNull(failure.ServiceAccount));
        }

        if (Logger.IsEnabled(LogLevel.Information))
        {
            // Absent fields stay null: the message leaves them out rather than printing empty brackets.
            var keyId = KubernetesTokenValidator.ShortenOrNull(failure.KeyId);
            var issuer = KubernetesTokenValidator.ShortenOrNull(failure.Issuer);
            var audience = failure.Audiences is null || !failure.Audiences.Any() ? null : KubernetesTokenValidator.Shorten(string.Join(",", failure.Audiences.Take(5)), 128);
            // Every field may come from an unverified token: shortened, control characters replaced.
            var description = KubernetesTokenValidator.Shorten(failure.Description, 512);
            var ns = KubernetesTokenValidator.ShortenOrNull(failure.Namespace);
            var serviceAccount = KubernetesTokenValidator.ShortenOrNull(failure.ServiceAccount);

            // The detail (configured values) is the operator's: it goes to this line, never to error_description.
            var detail = failure.Detail is null ? null : KubernetesTokenValidator.Shorten(failure.Detail, 512);
            Log.TokenRefused(Logger, failure.Reason, description, detail, Scheme.Name, ClusterOf(failure), keyId, issuer, audience, ns, serviceAccount);
        }

        // The token's kind when its claims were read (most refusals); absent for unparsable tokens.
        Record(started, "failure", failure.Reason.ToString(), failure.IsLegacy, cacheHit, failure.Cluster);
        var failed = new KubernetesAuthenticationFailedContext(Context, Scheme, Options, failure.ToException());
        await Events.AuthenticationFailed(failed);
        var result = failed.Result ?? AuthenticateResult.Fail(failed.Exception);
        if (result.Failure is not null)
        {
            var state = KubernetesRequestState.Get(Context);
            state.Failure ??= result.Failure;
        }

        return result;
    }

    private string ClusterOf(TokenFailure failure) =>
        failure.Cluster ?? (string.IsNullOrWhiteSpace(Options.ClusterName) ? Scheme.Name : Options.ClusterName);

    /// <summary>The tags of the validation span (docs/observability.md); nothing without a listener.</summary>
    private void TagSpan(string result, KubernetesTokenFailureReason? reason, bool cacheHit, string cluster, string? @namespace, string? serviceAccount)
    {
        var activity = _activity;
        if (activity is null)
        {
            return;
        }

        activity.SetTag(KubeSaAuthTelemetry.SchemeTag, Scheme.Name);
        activity.SetTag(KubeSaAuthTelemetry.ClusterTag, cluster);
        activity.SetTag(KubeSaAuthTelemetry.ResultTag, result);
        activity.SetTag(KubeSaAuthTelemetry.CacheHitTag, cacheHit);
        activity.SetTag(KubeSaAuthTelemetry.NamespaceTag, @namespace);
        activity.SetTag(KubeSaAuthTelemetry.ServiceAccountTag, serviceAccount);
        if (reason is { } failed)
        {
            var name = failed.ToString();
            activity.SetTag(KubeSaAuthTelemetry.ErrorTypeTag, name);
            activity.SetStatus(ActivityStatusCode.Error, name);
        }
    }

    private void Record(long started, string result, string? reason, bool? isLegacy, bool cacheHit, string? cluster = null)
    {
        // No listener (the common case without OpenTelemetry): skip building the tags.
        if (!telemetry.TokensValidated.Enabled && !telemetry.ValidationDuration.Enabled)
        {
            return;
        }

        var tags = new TagList
        {
            { "result", result },
            { "scheme", Scheme.Name },
            { "cache", cacheHit ? "hit" : "miss" },
        };
        if (reason is not null)
        {
            tags.Add("reason", reason);
        }

        if (cluster is not null)
        {
            // Bounded by the configuration: only a cluster that judged the token is named.
            tags.Add("cluster", cluster);
        }

        if (isLegacy is not null)
        {
            tags.Add("kind", isLegacy.Value ? KubernetesClaimTypes.LegacyTokenKind : KubernetesClaimTypes.BoundTokenKind);
        }

        telemetry.TokensValidated.Add(1, tags);
        if (started != 0 && telemetry.ValidationDuration.Enabled)
        {
            telemetry.ValidationDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }
    }
}
