// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Benchmarks.EndToEnd;

/// <summary>
/// The floor: an authentication handler that does no work. Any <c>Authorization</c> header is a success
/// with one prebuilt ticket; no header is NoResult, so that the no-token scenario is answered 401 with
/// <c>WWW-Authenticate: Bearer</c> as the real handlers answer it.
/// </summary>
internal sealed class FloorHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "floor";

    private static readonly Task<AuthenticateResult> Success = Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(
        new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "system:serviceaccount:my-namespace:my-service-account")], SchemeName)),
        SchemeName)));

    private static readonly Task<AuthenticateResult> None = Task.FromResult(AuthenticateResult.NoResult());

    protected override Task<AuthenticateResult> HandleAuthenticateAsync() => Request.Headers.Authorization.Count == 0 ? None : Success;

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        return Task.CompletedTask;
    }
}
