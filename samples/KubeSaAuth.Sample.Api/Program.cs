// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Claims;
using KubeSaAuth;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;

// The reference API. Every setting comes from configuration: the handler binds
// Authentication:Schemes:KubernetesServiceAccount (e.g. Authentication__Schemes__KubernetesServiceAccount__Issuer),
// so the same build runs unchanged against any cluster.
var builder = WebApplication.CreateBuilder(args);

builder.Services.AddControllers();
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

app.Run();

/// <summary>The sample's entry point, visible to WebApplicationFactory.</summary>
public partial class Program;
