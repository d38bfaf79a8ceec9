// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Tokens;
using Microsoft.AspNetCore.Http;

namespace KubeSaAuth.Schemes;

/// <summary>
/// What the Kubernetes schemes of one request share: the token as read once, which scheme refused a token
/// that no scheme claims (so that there is one refusal, not one per scheme), the judging scheme's failure,
/// and whether the one <c>Bearer</c> challenge of the response was written.
/// </summary>
internal sealed class KubernetesRequestState
{
    private static readonly object Key = new();

    /// <summary>The token text that <see cref="Parsed"/> was read from.</summary>
    public string? Token { get; private set; }

    /// <summary>The token as read by the first scheme; <see langword="null"/> when unreadable (then <see cref="ParseFailure"/>).</summary>
    public ParsedToken? Parsed { get; private set; }

    /// <summary>Why the token could not be read.</summary>
    public TokenFailure? ParseFailure { get; private set; }

    /// <summary>The scheme that gave the one refusal of a token no scheme claims.</summary>
    public string? Refuser { get; set; }

    /// <summary>The failure of the scheme that judged the token, for the challenge.</summary>
    public Exception? Failure { get; set; }

    /// <summary>Whether a Kubernetes scheme already wrote the response's <c>Bearer</c> challenge.</summary>
    public bool Challenged { get; set; }

    /// <summary>
    /// Whether a Kubernetes scheme already logged and counted this request's 403: ASP.NET Core forbids once per
    /// scheme of the policy, and a policy of two clusters would log it twice.
    /// </summary>
    public bool ForbiddenReported { get; set; }

    /// <summary>The requirements that failed, as the authorization result handler saw them (the 403's policy kind).</summary>
    public IEnumerable<Microsoft.AspNetCore.Authorization.IAuthorizationRequirement>? FailedRequirements { get; set; }

    public static KubernetesRequestState Get(HttpContext context)
    {
        if (context.Items.TryGetValue(Key, out var value) && value is KubernetesRequestState state)
        {
            return state;
        }

        state = new KubernetesRequestState();
        context.Items[Key] = state;
        return state;
    }

    public static KubernetesRequestState? Find(HttpContext context) =>
        context.Items.TryGetValue(Key, out var value) ? value as KubernetesRequestState : null;

    /// <summary>Whether this request's token was read already (the same text), with what it gave.</summary>
    public bool TryGetParsed(string token, out ParsedToken? parsed, out TokenFailure? failure)
    {
        parsed = Parsed;
        failure = ParseFailure;
        return Token is not null && (ReferenceEquals(Token, token) || string.Equals(Token, token, StringComparison.Ordinal));
    }

    public void SetParsed(string token, ParsedToken? parsed, TokenFailure? failure)
    {
        Token = token;
        Parsed = parsed;
        ParseFailure = failure;
    }
}
