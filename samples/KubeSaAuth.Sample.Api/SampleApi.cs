// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics.CodeAnalysis;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
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

        if (IsMvcSupported)
        {
            AddMvc(builder.Services);
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
        builder.Services.AddHealthChecks()
            .AddKubernetesServiceAccountKeys(tags: ["ready"])
            .AddKubernetesClusterView(tags: ["ready"]);

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
            return Results.Json(
                new WhoAmIResponse(sa.Namespace, sa.Name, sa.Uid, sa.PodName, sa.PodUid, sa.NodeName, sa.NodeUid, sa.SecretName, sa.Issuer, sa.Cluster, sa.IsLegacy, sa.Username, sa.Groups, sa.Audiences, sa.TokenId, sa.ExpiresAt, sa.WarnAfter),
                SampleJsonContext.Default.WhoAmIResponse);
        }).RequireAuthorization();

        if (IsMvcSupported)
        {
            app.MapControllers();
        }
        else
        {
            // Native AOT has no MVC: the same answer and policy as Controllers/ReportsController, as a minimal API.
            app.MapGet("/reports", (ClaimsPrincipal user) => Results.Json(
                    new ReportsResponse(["daily-usage", "weekly-errors"], user.GetKubernetesServiceAccount()!.Username),
                    SampleJsonContext.Default.ReportsResponse))
                .RequireAuthorization("namespace:my-namespace");
        }

        app.MapGet("/admin", (ClaimsPrincipal user) => Results.Json(new AdminResponse(true, user.Identity!.Name), SampleJsonContext.Default.AdminResponse))
            .RequireAuthorization("serviceaccount:my-namespace:my-service-account");

        // Label policies read the cluster view (ClusterView:Enabled): the caller's namespace labels, and its Pod's.
        app.MapGet("/prod", (ClaimsPrincipal user) => Results.Json(CallerResponse.Of(user), SampleJsonContext.Default.CallerResponse))
            .RequireAuthorization("namespace-selector:env=prod");
        app.MapGet("/checkout", (ClaimsPrincipal user) => Results.Json(CallerResponse.Of(user), SampleJsonContext.Default.CallerResponse))
            .RequireAuthorization("pod-selector:app in (checkout,payments),tier!=canary");

        return app;
    }

    /// <summary>
    /// Whether MVC (the <c>/reports</c> controller) is used: on, except in the Native AOT build, which sets the
    /// switch off (KubeSaAuth.Sample.Api.csproj) so that the trimmer removes MVC and <c>/reports</c> is a minimal API.
    /// </summary>
    [FeatureSwitchDefinition(MvcSwitch)]
    internal static bool IsMvcSupported => !AppContext.TryGetSwitch(MvcSwitch, out var on) || on;

    private const string MvcSwitch = "KubeSaAuth.Sample.Api.Mvc";

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Called only when IsMvcSupported: the Native AOT build turns the switch off and the trimmer replaces it with false, so MVC is not in that binary.")]
    private static void AddMvc(IServiceCollection services)
    {
        // The controllers live in this assembly, which is not the entry assembly when another process hosts the API.
        var mvc = services.AddControllers();
        if (!mvc.PartManager.ApplicationParts.OfType<AssemblyPart>().Any(p => p.Assembly == typeof(SampleApi).Assembly))
        {
            mvc.AddApplicationPart(typeof(SampleApi).Assembly);
        }
    }
}

/// <summary>The <c>/whoami</c> answer.</summary>
internal sealed record WhoAmIResponse(
    string Namespace,
    string ServiceAccount,
    string? ServiceAccountUid,
    string? PodName,
    string? PodUid,
    string? NodeName,
    string? NodeUid,
    string? SecretName,
    string Issuer,
    string Cluster,
    bool Legacy,
    string Username,
    IReadOnlyList<string> Groups,
    IReadOnlyList<string> Audiences,
    string? TokenId,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? WarnAfter);

/// <summary>The <c>/reports</c> answer.</summary>
internal sealed record ReportsResponse(IReadOnlyList<string> Reports, string RequestedBy);

/// <summary>The <c>/admin</c> answer.</summary>
internal sealed record AdminResponse(bool Admin, string? Caller);

/// <summary>The caller a label policy admitted, with the labels it was admitted on.</summary>
internal sealed record CallerResponse(string Caller, string Namespace, string? PodName, IReadOnlyDictionary<string, string>? NamespaceLabels, IReadOnlyDictionary<string, string>? PodLabels)
{
    public static CallerResponse Of(ClaimsPrincipal user)
    {
        var sa = user.GetKubernetesServiceAccount()!;
        return new CallerResponse(sa.Username, sa.Namespace, sa.PodName, sa.NamespaceLabels, sa.PodLabels);
    }
}

/// <summary>Serialization generated at build time (Native AOT has no reflection-based JSON), with the web defaults (camelCase).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(WhoAmIResponse))]
[JsonSerializable(typeof(ReportsResponse))]
[JsonSerializable(typeof(AdminResponse))]
[JsonSerializable(typeof(CallerResponse))]
internal sealed partial class SampleJsonContext : JsonSerializerContext;
