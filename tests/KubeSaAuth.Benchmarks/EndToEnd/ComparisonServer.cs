// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Runtime;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace KubeSaAuth.Benchmarks.EndToEnd;

/// <summary>
/// <c>--serve floor|jwtbearer</c>: the apps the sample API is compared with, each in its own process and
/// with the sample's shape (WebApplication, authentication and authorization middlewares, the same
/// endpoints and JSON answers), differing only in the handler:
/// <list type="bullet">
/// <item><c>floor</c> — <see cref="FloorHandler"/>, which does no work; every policy is "authenticated".</item>
/// <item><c>jwtbearer</c> — plain JwtBearer configured for the issuer (<c>--metadata</c> discovery address,
/// <c>--issuer</c>, audience <c>my-api</c>, RS256), with policies asserting <c>sub</c> as the sample's do.</item>
/// </list>
/// It stops when its standard input closes (the driver went away) or after <c>--max-seconds</c>.
/// </summary>
internal static class ComparisonServer
{
    public const string Audience = "my-api";

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        var kind = Argument(args, "--serve") ?? throw new ArgumentException("--serve needs floor or jwtbearer.");
        var maxSeconds = double.Parse(Argument(args, "--max-seconds") ?? "3600", System.Globalization.CultureInfo.InvariantCulture);
        var builder = WebApplication.CreateBuilder([.. args.Where(a => a.StartsWith("--urls", StringComparison.Ordinal) || a.StartsWith("http", StringComparison.Ordinal))]);
        var services = builder.Services;
        services.AddAuthorization();
        switch (kind)
        {
            case "floor":
                services.AddAuthentication(FloorHandler.SchemeName).AddScheme<AuthenticationSchemeOptions, FloorHandler>(FloorHandler.SchemeName, null);
                services.AddAuthorizationBuilder()
                    .AddPolicy("namespace", p => p.RequireAuthenticatedUser())
                    .AddPolicy("serviceaccount", p => p.RequireAuthenticatedUser());
                break;
            case "jwtbearer":
                var metadata = Argument(args, "--metadata") ?? throw new ArgumentException("--metadata is required for jwtbearer.");
                var issuer = Argument(args, "--issuer") ?? throw new ArgumentException("--issuer is required for jwtbearer.");
                services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
                {
                    o.MetadataAddress = metadata;
                    o.RequireHttpsMetadata = false;
                    o.TokenValidationParameters.ValidIssuer = issuer;
                    o.TokenValidationParameters.ValidAudience = Audience;
                    o.TokenValidationParameters.ValidAlgorithms = ["RS256"];
                    o.TokenValidationParameters.NameClaimType = ClaimTypes.NameIdentifier;
                });
                services.AddAuthorizationBuilder()
                    .AddPolicy("namespace", p => p.RequireAssertion(static c => Subject(c)?.StartsWith("system:serviceaccount:my-namespace:", StringComparison.Ordinal) == true))
                    .AddPolicy("serviceaccount", p => p.RequireAssertion(static c => Subject(c) == "system:serviceaccount:my-namespace:my-service-account"));
                break;
            default:
                throw new ArgumentException($"--serve {kind}: expected floor or jwtbearer.");
        }

        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/healthz", () => Results.Text("ok")).AllowAnonymous();
        app.MapGet("/whoami", (ClaimsPrincipal user) => Results.Json(new { username = user.Identity!.Name })).RequireAuthorization();
        app.MapGet("/reports", (ClaimsPrincipal user) => Results.Json(new { requestedBy = user.Identity!.Name })).RequireAuthorization("namespace");
        app.MapGet("/admin", (ClaimsPrincipal user) => Results.Json(new { admin = true, caller = user.Identity!.Name })).RequireAuthorization("serviceaccount");

        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.WriteLine($"listening: {address} ({kind}, {(GCSettings.IsServerGC ? "server" : "workstation")} GC)");

        // Stop by ourselves: when the driver closes our standard input, or at the deadline.
        var stdinClosed = Task.Run(() =>
        {
            while (Console.In.ReadLine() is not null)
            {
            }
        });
        await Task.WhenAny(stdinClosed, Task.Delay(TimeSpan.FromSeconds(maxSeconds)), app.WaitForShutdownAsync());
        await app.StopAsync();
        return 0;
    }

    internal static string? Argument(IReadOnlyList<string> args, string name)
    {
        for (var i = 0; i < args.Count - 1; i++)
        {
            if (args[i] == name)
            {
                return args[i + 1];
            }
        }

        return null;
    }

    private static string? Subject(AuthorizationHandlerContext context) => context.User.FindFirst(ClaimTypes.NameIdentifier)?.Value;
}
