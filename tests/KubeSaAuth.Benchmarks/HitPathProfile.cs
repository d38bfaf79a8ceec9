// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Claims;
using KubeSaAuth.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Benchmarks;

/// <summary>Where a repeated (cached) token's request time goes, layer by layer, for both stacks (thread CPU time, median of rounds).</summary>
internal static class HitPathProfile
{
    public static async Task RunAsync()
    {
        await using var env = await BenchmarkEnvironment.CreateAsync();
        var header = "Bearer " + env.CreateToken();
        for (var i = 0; i < 2; i++)
        {
            await env.RequestAsync(BenchmarkEnvironment.KubeScheme, header, env.KubePolicy);
        }

        var context = env.CreateContext(header);
        var kubePrincipal = (await env.AuthenticateWithKubeHandlerAsync(context)).Principal!;
        var jwtPrincipal = (await env.AuthenticateWithJwtHandlerAsync(env.CreateContext(header))).Principal!;
        var runtime = env.Services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(BenchmarkEnvironment.KubeScheme).Runtime!;
        var token = header["Bearer ".Length..];
        var account = kubePrincipal.GetKubernetesServiceAccount()!;
        var steps = new (string Name, Func<Task> Run)[]
        {
            ("Harness floor: request scope + HttpContext", () => env.EmptyRequestAsync(header)),
            ("KubeSaAuth: handler only (cache hit)", () => env.AuthenticateWithKubeHandlerAsync(context)),
            ("  of which: resolve + initialize a new handler (framework)", () => env.InitializeKubeHandlerAsync(context)),
            ("  of which: cache lookup (hash, compare, expiry)", () => Task.FromResult(runtime.Cache!.TryGet(token, runtime.Keys.Current!.TrustEpoch, out _))),
            ("  (clock read: TimeProvider.System.GetUtcNow)", () => Task.FromResult(TimeProvider.System.GetUtcNow())),
            ("  (Authorization header read from HttpContext)", () => Task.FromResult(context.Request.Headers.Authorization.Count)),
            ("  of which: principal, identity, ticket, result", () => Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new KubernetesClaimsIdentity(account, "k8s")), "k8s")))),
            ("KubeSaAuth: authenticate only (scope, HttpContext, AuthenticationService)", () => env.AuthenticateOnlyAsync(BenchmarkEnvironment.KubeScheme, header)),
            ("KubeSaAuth: authorize only (namespace policy)", () => env.AuthorizeOnlyAsync(kubePrincipal, env.KubePolicy)),
            ("KubeSaAuth: whole request", () => env.RequestAsync(BenchmarkEnvironment.KubeScheme, header, env.KubePolicy)),
            ("JwtBearer: authorize only (assertion policy)", () => env.AuthorizeOnlyAsync(jwtPrincipal, env.JwtPolicy)),
            ("JwtBearer: whole request", () => env.RequestAsync(BenchmarkEnvironment.JwtScheme, header, env.JwtPolicy)),
        };

        await MissPathProfile.MeasureAsync(steps, rounds: 31, batch: 200);
    }
}
