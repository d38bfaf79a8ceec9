// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Claims;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Mvc.ApplicationParts;

namespace KubeSaAuth.Sample.Api;

/// <summary>Builds the reference API, so that it can run as its own process or inside another one (the demo).</summary>
public static class SampleApi
{
    /// <summary>Builds the API from configuration (command line, environment, appsettings.json).</summary>
    /// <param name="args">The command-line arguments.</param>
    /// <param name="configure">Adds configuration sources or services before the API is built (the demo points it at its stand-in cluster).</param>
    /// <returns>The application, not yet started.</returns>
    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);

        // The controllers live in this assembly, which is not the entry assembly when another process hosts the API.
        var mvc = builder.Services.AddControllers();
        if (!mvc.PartManager.ApplicationParts.OfType<AssemblyPart>().Any(p => p.Assembly == typeof(SampleApi).Assembly))
        {
            mvc.AddApplicationPart(typeof(SampleApi).Assembly);
        }
        // Several replicas share TokenReview verdicts (TokenReview:SharedCache) through HybridCache over Redis.
        if (builder.Configuration["Redis:Configuration"] is { Length: > 0 } redis)
        {
            builder.Services.AddStackExchangeRedisCache(o => o.Configuration = redis);
            builder.Services.AddHybridCache();
        }

        builder.Services
            .AddAuthentication(KubernetesServiceAccountDefaults.AuthenticationScheme)
            .AddKubernetesServiceAccount();
        builder.Services.AddAuthorization();
        builder.Services.AddHealthChecks().AddKubernetesServiceAccountKeys(tags: ["ready"]);

        var app = builder.Build();

        app.UseAuthentication();
        app.UseAuthorization();

        // Liveness: 200 whenever the process serves requests, even while the issuer is unreachable.
        app.MapGet("/healthz", () => Results.Text("ok")).AllowAnonymous();

        // Readiness: the signing keys (Healthy, Degraded while serving stale keys, Unhealthy without keys).
        app.MapHealthChecks("/healthz/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") }).AllowAnonymous();

        app.MapGet("/whoami", (ClaimsPrincipal user) =>
        {
            var sa = user.GetKubernetesServiceAccount()!;
            return Results.Json(new
            {
                @namespace = sa.Namespace,
                serviceAccount = sa.Name,
                serviceAccountUid = sa.Uid,
                podName = sa.PodName,
                podUid = sa.PodUid,
                nodeName = sa.NodeName,
                nodeUid = sa.NodeUid,
                secretName = sa.SecretName,
                issuer = sa.Issuer,
                cluster = sa.Cluster,
                legacy = sa.IsLegacy,
                username = sa.Username,
                groups = sa.Groups,
                audiences = sa.Audiences,
                tokenId = sa.TokenId,
                expiresAt = sa.ExpiresAt,
                warnAfter = sa.WarnAfter,
            });
        }).RequireAuthorization();

        app.MapControllers();

        app.MapGet("/admin", (ClaimsPrincipal user) => Results.Json(new { admin = true, caller = user.Identity!.Name }))
            .RequireAuthorization("serviceaccount:my-namespace:my-service-account");

        return app;
    }
}
