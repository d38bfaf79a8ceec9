// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Tokens;

/// <summary>
/// Why a token was refused, with what the logs may say about it (never the token). <see cref="Description"/>
/// reaches the caller (<c>error_description</c>): it names what is wrong with the token and never this service's
/// configuration. <see cref="Detail"/> is what only the operator's log adds: the configured values the token
/// failed against (accepted audiences and issuers, limits, the clock skew, the API server's own words).
/// </summary>
internal sealed record TokenFailure(
    KubernetesTokenFailureReason Reason,
    string Description,
    string? KeyId = null,
    string? Issuer = null,
    string? Namespace = null,
    string? ServiceAccount = null,
    IReadOnlyList<string>? Audiences = null,
    bool? IsLegacy = null,
    string? Detail = null,
    string? Cluster = null)
{
    public KubernetesTokenException ToException() => new(Reason, Description);

    /// <summary>The description with the operator's detail, for logs only.</summary>
    public string LogDescription => Detail is null ? Description : $"{Description.TrimEnd('.')} ({Detail})";
}

/// <summary>The outcome of validating one token: the caller, or why it was refused.</summary>
internal readonly record struct TokenValidationOutcome(KubernetesServiceAccount? ServiceAccount, TokenFailure? Failure, long TrustEpoch, bool PastWarnAfter)
{
    public static TokenValidationOutcome Fail(TokenFailure failure) => new(null, failure, 0, false);
}
