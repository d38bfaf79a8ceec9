// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.TokenReview;
using KubeSaAuth.Tokens;

namespace KubeSaAuth.Tool;

/// <summary>What <c>kubesa inspect</c> found.</summary>
internal sealed record InspectReport(
    JwtHeaderDocument? Header,
    JwtPayloadDocument? Payload,
    IReadOnlyList<RuleResult> Rules,
    TokenFailure? Verdict,
    string KeySource,
    string? KeyError,
    IReadOnlyList<string> KeyIds,
    DateTimeOffset Now)
{
    /// <summary>What was assumed to judge the rules after a refusal (which configuration or time would lift it).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Which of the given issuers the token was judged against, and why; <see langword="null"/> when none was given.</summary>
    public string? Issuer { get; init; }

    /// <summary>Why no keys could be had, naming the address that failed and what to do; <see langword="null"/> when keys were had.</summary>
    public string? KeyFailure { get; init; }

    public bool Accepted => Verdict is null;
}
