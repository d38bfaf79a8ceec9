// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.TokenReview;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.Diagnostics;

/// <summary>
/// Log messages. Event ids are stable and grouped by area: 1xx tokens, 2xx keys, 3xx in-cluster and
/// TokenReview, 4xx calling side. Never a token or a signature: namespace, service account, kid, issuer.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 100, EventName = "TokenValidated", Level = LogLevel.Debug,
        Message = "Authenticated service account {Namespace}/{ServiceAccount} ({Kind} token, pod {Pod}) of cluster {Cluster}.")]
    public static partial void TokenValidated(ILogger logger, string Namespace, string serviceAccount, string kind, string? pod, string cluster);

    /// <summary>Event 101 at Information; the message lists only the fields the token had (see <see cref="TokenRefusedLogState"/>).</summary>
    public static void TokenRefused(ILogger logger, KubernetesTokenFailureReason reason, string description, string? detail, string scheme, string? cluster, string? keyId, string? issuer, string? audience, string? @namespace, string? serviceAccount)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            logger.Log(LogLevel.Information, TokenRefusedEvent, new TokenRefusedLogState(reason, description, detail, scheme, cluster, keyId, issuer, audience, @namespace, serviceAccount), null, TokenRefusedLogState.Formatter);
        }
    }

    private static readonly EventId TokenRefusedEvent = new(101, "TokenRefused");

    [LoggerMessage(EventId = 102, EventName = "TokenPastWarnAfter", Level = LogLevel.Warning,
        Message = "Accepted an extended token of {Namespace}/{ServiceAccount} past its warnafter time {WarnAfter:o}: the caller uses a stale token file (EnforceWarnAfter is off).")]
    public static partial void TokenPastWarnAfter(ILogger logger, string Namespace, string serviceAccount, DateTimeOffset warnAfter);

    [LoggerMessage(EventId = 103, EventName = "LegacyTokenAccepted", Level = LogLevel.Debug,
        Message = "Accepted a legacy secret-based token of {Namespace}/{ServiceAccount} (AcceptLegacyTokens is on).")]
    public static partial void LegacyTokenAccepted(ILogger logger, string Namespace, string serviceAccount);

    [LoggerMessage(EventId = 104, EventName = "NoBearerToken", Level = LogLevel.Debug,
        Message = "No bearer token in the request.")]
    public static partial void NoBearerToken(ILogger logger);

    [LoggerMessage(EventId = 105, EventName = "ValidationCacheInvalidated", Level = LogLevel.Information,
        Message = "Dropped {Count} cached validations of scheme {Scheme}: a key was removed from the key set.")]
    public static partial void ValidationCacheInvalidated(ILogger logger, string scheme, int count);

    [LoggerMessage(EventId = 106, EventName = "ForbiddenResponse", Level = LogLevel.Information,
        Message = "Forbidden (403): service account {Namespace}/{ServiceAccount} of cluster {Cluster} does not satisfy the authorization policy {Policy}.")]
    public static partial void Forbidden(ILogger logger, string Namespace, string serviceAccount, string cluster, string policy);

    [LoggerMessage(EventId = 109, EventName = "ForbiddenWithoutServiceAccount", Level = LogLevel.Information,
        Message = "Forbidden (403): the caller has no identity from a Kubernetes scheme, so it cannot satisfy the authorization policy {Policy}.")]
    public static partial void ForbiddenWithoutServiceAccount(ILogger logger, string policy);

    [LoggerMessage(EventId = 107, EventName = "UnexpectedValidationError", Level = LogLevel.Error,
        Message = "Unexpected error while validating a service-account token; the request is refused.")]
    public static partial void UnexpectedValidationError(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 108, EventName = "TokenLeftToOtherScheme", Level = LogLevel.Debug,
        Message = "Scheme {Scheme} left the token to scheme {Judges}: its issuer is theirs (or another scheme refused it).")]
    public static partial void TokenLeftToOtherScheme(ILogger logger, string scheme, string judges);

    /// <summary>Event 200 at Information: "1 signing key", "2 signing keys".</summary>
    public static void KeysFetched(ILogger logger, string scheme, int count, string jwksUri, string keyIds)
    {
        if (count == 1)
        {
            OneKeyFetched(logger, scheme, count, jwksUri, keyIds);
        }
        else
        {
            SeveralKeysFetched(logger, scheme, count, jwksUri, keyIds);
        }
    }

    // One event (200, KeysFetched) in two grammatical numbers; the structured fields are the same.
#pragma warning disable SYSLIB1006, SYSLIB1025 // the same event id and name on two methods, on purpose
    [LoggerMessage(EventId = 200, EventName = "KeysFetched", Level = LogLevel.Information,
        Message = "Fetched {Count} signing key for scheme {Scheme} from {JwksUri} (kid: {KeyIds}).")]
    private static partial void OneKeyFetched(ILogger logger, string scheme, int count, string jwksUri, string keyIds);

    [LoggerMessage(EventId = 200, EventName = "KeysFetched", Level = LogLevel.Information,
        Message = "Fetched {Count} signing keys for scheme {Scheme} from {JwksUri} (kids: {KeyIds}).")]
    private static partial void SeveralKeysFetched(ILogger logger, string scheme, int count, string jwksUri, string keyIds);
#pragma warning restore SYSLIB1006, SYSLIB1025

    /// <summary>Event 201 at Warning; the status appears only when the server answered (never "status (null)").</summary>
    public static void KeyFetchFailed(ILogger logger, string scheme, string address, int? statusCode, string error, string consequence)
    {
        if (statusCode is { } status)
        {
            KeyFetchFailedWithStatus(logger, scheme, address, status, error, consequence);
        }
        else
        {
            KeyFetchFailedWithoutAnswer(logger, scheme, address, error, consequence);
        }
    }

#pragma warning disable SYSLIB1006, SYSLIB1025 // the same event id and name on two methods, on purpose
    [LoggerMessage(EventId = 201, EventName = "KeyFetchFailed", Level = LogLevel.Warning,
        Message = "Fetching the signing keys of scheme {Scheme} failed at {Address} (status {StatusCode}): {Error}. {Consequence}")]
    private static partial void KeyFetchFailedWithStatus(ILogger logger, string scheme, string address, int statusCode, string error, string consequence);

    [LoggerMessage(EventId = 201, EventName = "KeyFetchFailed", Level = LogLevel.Warning,
        Message = "Fetching the signing keys of scheme {Scheme} failed at {Address} (no answer): {Error}. {Consequence}")]
    private static partial void KeyFetchFailedWithoutAnswer(ILogger logger, string scheme, string address, string error, string consequence);
#pragma warning restore SYSLIB1006, SYSLIB1025

    [LoggerMessage(EventId = 202, EventName = "KeysRemoved", Level = LogLevel.Warning,
        Message = "The key set of scheme {Scheme} no longer lists kids {KeyIds}: tokens signed with them are refused from now on.")]
    public static partial void KeysRemoved(ILogger logger, string scheme, string keyIds);

    [LoggerMessage(EventId = 203, EventName = "IssuerMismatch", Level = LogLevel.Warning,
        Message = "The discovery document of scheme {Scheme} names issuer '{DiscoveredIssuer}', but the Issuer option is '{ConfiguredIssuer}'; tokens are validated against the configured one.")]
    public static partial void IssuerMismatch(ILogger logger, string scheme, string discoveredIssuer, string configuredIssuer);

    [LoggerMessage(EventId = 204, EventName = "KeySkipped", Level = LogLevel.Warning,
        Message = "Ignoring a key of scheme {Scheme} (kid {KeyId}): {Reason}.")]
    public static partial void KeySkipped(ILogger logger, string scheme, string? keyId, string reason);

    [LoggerMessage(EventId = 208, EventName = "WeakKeyRefused", Level = LogLevel.Warning,
        Message = "Refusing the RSA key with kid {KeyId} of scheme {Scheme} read from {Source}: {KeySize} bits, under the 2048 bits RFC 7518 §3.3 requires. Tokens signed with it are refused; have the cluster sign with a 2048-bit (or larger) RSA key or an EC key.")]
    public static partial void WeakKeyRefused(ILogger logger, string scheme, string keyId, int keySize, string source);

    [LoggerMessage(EventId = 205, EventName = "UnknownKeyIdRefreshThrottled", Level = LogLevel.Debug,
        Message = "Token names unknown kid {KeyId}; the keys of scheme {Scheme} were fetched less than RefreshInterval ago, so no fetch is made.")]
    public static partial void UnknownKeyIdThrottled(ILogger logger, string scheme, string keyId);

    [LoggerMessage(EventId = 206, EventName = "KeysEmpty", Level = LogLevel.Warning,
        Message = "The key set of scheme {Scheme} fetched from {JwksUri} has no usable signing key: every token is refused until it has one.")]
    public static partial void KeysEmpty(ILogger logger, string scheme, string jwksUri);

    [LoggerMessage(EventId = 207, EventName = "KeysWarmUp", Level = LogLevel.Information,
        Message = "Warm-up of scheme {Scheme}: {Outcome}.")]
    public static partial void KeysWarmUp(ILogger logger, string scheme, string outcome);

    [LoggerMessage(EventId = 220, EventName = "KeyFileUnusable", Level = LogLevel.Warning,
        Message = "The key file {Path} of scheme {Scheme} (JwksPath) cannot be used: {Error}. {Consequence}")]
    public static partial void KeyFileUnusable(ILogger logger, string scheme, string path, string error, string consequence);

    [LoggerMessage(EventId = 500, EventName = "TokenCached", Level = LogLevel.Debug,
        Message = "Cached the validation of a token of {Namespace}/{ServiceAccount} (second successful validation).")]
    public static partial void TokenCached(ILogger logger, string Namespace, string serviceAccount);

    [LoggerMessage(EventId = 501, EventName = "TokenUncachedByReview", Level = LogLevel.Information,
        Message = "TokenReview refused a token of {Namespace}/{ServiceAccount}; its cached validation was dropped.")]
    public static partial void TokenUncachedByReview(ILogger logger, string Namespace, string serviceAccount);

    [LoggerMessage(EventId = 300, EventName = "InClusterConfigured", Level = LogLevel.Information,
        Message = "Scheme {Scheme} runs in-cluster: keys from the API server {ApiServer}, trusting only the CA and using the token in {Directory}.")]
    public static partial void InClusterConfigured(ILogger logger, string scheme, string apiServer, string directory);

    [LoggerMessage(EventId = 301, EventName = "InClusterNoServiceHost", Level = LogLevel.Warning,
        Message = "Scheme {Scheme} runs in-cluster but {Variable} is not set (not running in a Pod?); using {ApiServer}.")]
    public static partial void InClusterNoServiceHost(ILogger logger, string scheme, string variable, string apiServer);

    [LoggerMessage(EventId = 310, EventName = "TokenReviewRejected", Level = LogLevel.Information,
        Message = "The API server's TokenReview refused {Namespace}/{ServiceAccount} (scheme {Scheme}): {Error}.")]
    public static partial void TokenReviewRejected(ILogger logger, string scheme, string Namespace, string serviceAccount, string error);

    [LoggerMessage(EventId = 311, EventName = "TokenReviewUnavailable", Level = LogLevel.Warning,
        Message = "TokenReview of scheme {Scheme} at {Address} failed: {Error}. {Consequence}")]
    public static partial void TokenReviewUnavailable(ILogger logger, string scheme, string address, string error, string consequence);

    [LoggerMessage(EventId = 312, EventName = "TokenReviewAuthenticated", Level = LogLevel.Debug,
        Message = "The API server's TokenReview authenticated {Namespace}/{ServiceAccount} (scheme {Scheme}, cached: {Cached}).")]
    public static partial void TokenReviewAuthenticated(ILogger logger, string scheme, string Namespace, string serviceAccount, bool cached);

    [LoggerMessage(EventId = 313, EventName = "LiveTokenReviewUnavailable", Level = LogLevel.Warning,
        Message = "The '{Policy}' policy needs TokenReview, but no Kubernetes scheme authenticated the caller with TokenReview enabled; access is denied.")]
    public static partial void LiveTokenReviewUnavailable(ILogger logger, string policy);

    [LoggerMessage(EventId = 314, EventName = "TokenReviewSharedCacheUnavailable", Level = LogLevel.Warning,
        Message = "The shared TokenReview cache of scheme {Scheme} failed ({Operation}): {Error}. Each replica uses its own verdicts and the API server, and tries the shared cache again in {RetryAfterSeconds} s.")]
    public static partial void TokenReviewSharedCacheUnavailable(ILogger logger, string scheme, string operation, string error, double retryAfterSeconds);

    [LoggerMessage(EventId = 315, EventName = "TokenReviewSharedCacheRecovered", Level = LogLevel.Information,
        Message = "The shared TokenReview cache of scheme {Scheme} answers again.")]
    public static partial void TokenReviewSharedCacheRecovered(ILogger logger, string scheme);

    [LoggerMessage(EventId = 316, EventName = "TokenReviewSharedValueIgnored", Level = LogLevel.Warning,
        Message = "A value in the shared TokenReview cache of scheme {Scheme} was ignored ({Reason}); the API server is asked instead.")]
    public static partial void TokenReviewSharedValueIgnored(ILogger logger, string scheme, string reason);
}
