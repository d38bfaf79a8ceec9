// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Tokens;

/// <summary>Why a token was refused, with what the logs may say about it (never the token).</summary>
internal sealed record TokenFailure(
    KubernetesTokenFailureReason Reason,
    string Description,
    string? KeyId = null,
    string? Issuer = null,
    string? Namespace = null,
    string? ServiceAccount = null,
    IReadOnlyList<string>? Audiences = null,
    bool? IsLegacy = null)
{
    public KubernetesTokenException ToException() => new(Reason, Description);
}

/// <summary>The outcome of validating one token: the caller, or why it was refused.</summary>
internal readonly record struct TokenValidationOutcome(KubernetesServiceAccount? ServiceAccount, TokenFailure? Failure, long TrustEpoch, bool PastWarnAfter)
{
    public static TokenValidationOutcome Fail(TokenFailure failure) => new(null, failure, 0, false);
}
