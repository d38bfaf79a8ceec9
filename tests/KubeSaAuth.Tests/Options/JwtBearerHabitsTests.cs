// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Net.Http.Headers;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Tests.Options;

/// <summary>
/// Issue 20 §5: what a JwtBearer user reaches for works or says why not. <c>SaveToken</c> makes
/// <c>GetTokenAsync("access_token")</c> return the token; <c>NameClaimType</c> and <c>RoleClaimType</c> choose what
/// <c>User.Identity.Name</c> and <c>[Authorize(Roles = ...)]</c> read; a JwtBearer key or a misspelt key in the
/// scheme's configuration stops the start with "did you mean".
/// </summary>
public sealed class JwtBearerHabitsTests : IAsyncDisposable
{
    private const string Scheme = KubernetesServiceAccountDefaults.AuthenticationScheme;
    private readonly KubernetesTestIssuer _issuer = new();
    private WebApplication? _app;

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        await _issuer.DisposeAsync();
    }

    [Fact]
    public async Task With_SaveToken_GetTokenAsync_returns_the_token_on_a_miss_and_on_a_cache_hit()
    {
        using var client = await StartAsync(o => o.SaveToken = true);
        var token = _issuer.CreateToken("team-a").Build();

        // The validation cache admits a token on its second success: the third request is a hit.
        var answers = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            answers.Add(await GetAsync(client, "/token", token));
        }

        Assert.All(answers, a => Assert.Equal(token, a));
    }

    [Fact]
    public async Task Without_SaveToken_GetTokenAsync_returns_null_as_with_JwtBearer()
    {
        using var client = await StartAsync(_ => { });

        var answer = await GetAsync(client, "/token", _issuer.CreateToken("team-a").Build());

        Assert.Equal("(null)", answer);
        Assert.False(new KubernetesServiceAccountOptions().SaveToken);
    }

    [Fact]
    public async Task SaveToken_also_fills_the_properties_an_OnTokenValidated_event_sees()
    {
        string? seen = null;
        using var client = await StartAsync(o =>
        {
            o.SaveToken = true;
            o.Events.OnTokenValidated = context =>
            {
                seen = context.Properties.GetTokenValue("access_token");
                return Task.CompletedTask;
            };
        });
        var token = _issuer.CreateToken("team-a").Build();

        var answer = await GetAsync(client, "/token", token);

        Assert.Equal(token, answer);
        Assert.Equal(token, seen);
    }

    [Theory]
    [InlineData(null, "system:serviceaccount:team-a:worker")]
    [InlineData(KubernetesClaimTypes.ServiceAccountName, "worker")]
    [InlineData(KubernetesClaimTypes.Namespace, "team-a")]
    public async Task NameClaimType_chooses_what_User_Identity_Name_reads(string? nameClaimType, string expected)
    {
        using var client = await StartAsync(o =>
        {
            if (nameClaimType is not null)
            {
                o.NameClaimType = nameClaimType;
            }
        });

        var name = await GetAsync(client, "/name", _issuer.CreateToken("team-a", "worker").Build());

        Assert.Equal(expected, name);
    }

    [Fact]
    public async Task By_default_Authorize_Roles_reads_the_groups_Kubernetes_grants()
    {
        using var client = await StartAsync(_ => { });

        var mine = await SendAsync(client, "/group", _issuer.CreateToken("team-a").Build());
        var other = await SendAsync(client, "/group", _issuer.CreateToken("team-b").Build());

        Assert.Equal(HttpStatusCode.OK, mine);
        Assert.Equal(HttpStatusCode.Forbidden, other);
    }

    [Fact]
    public async Task RoleClaimType_chooses_what_Authorize_Roles_reads()
    {
        using var client = await StartAsync(o => o.RoleClaimType = KubernetesClaimTypes.Namespace);

        var mine = await SendAsync(client, "/role", _issuer.CreateToken("team-a").Build());
        var other = await SendAsync(client, "/role", _issuer.CreateToken("team-b").Build());
        var groups = await SendAsync(client, "/group", _issuer.CreateToken("team-a").Build());

        Assert.Equal(HttpStatusCode.OK, mine);
        Assert.Equal(HttpStatusCode.Forbidden, other);
        Assert.Equal(HttpStatusCode.Forbidden, groups);
    }

    [Fact]
    public async Task Claim_types_bind_from_configuration()
    {
        using var client = await StartAsync(_ => { }, new()
        {
            ["NameClaimType"] = KubernetesClaimTypes.ServiceAccountName,
            ["RoleClaimType"] = KubernetesClaimTypes.Namespace,
            ["SaveToken"] = "true",
        });
        var token = _issuer.CreateToken("team-a", "worker").Build();

        Assert.Equal("worker", await GetAsync(client, "/name", token));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(client, "/role", token));
        Assert.Equal(token, await GetAsync(client, "/token", token));
    }

    public static TheoryData<string, string, string> JwtBearerKeys() => new()
    {
        { "Authority", "https://kubernetes.default.svc", "did you mean 'Issuer'" },
        { "Audience", "my-api", "did you mean 'Audiences'" },
        { "ValidAudience", "my-api", "did you mean 'Audiences'" },
        { "ValidAudiences:0", "my-api", "did you mean 'Audiences'" },
        { "ValidIssuer", "https://kubernetes.default.svc", "did you mean 'Issuer'" },
        { "ValidIssuers:0", "https://kubernetes.default.svc", "did you mean 'Issuer'" },
        { "TokenValidationParameters:ValidAudience", "my-api", "did you mean 'Issuer' / 'Audiences'" },
        { "TokenValidationParameters:ValidateLifetime", "false", "did you mean 'Issuer' / 'Audiences'" },
        { "MapInboundClaims", "false", "did you mean nothing" },
    };

    [Theory]
    [MemberData(nameof(JwtBearerKeys))]
    public void A_JwtBearer_key_stops_the_start_with_did_you_mean(string key, string value, string expected)
    {
        var error = StartError(key, value);

        var name = key.Split(':')[0];
        Assert.Contains($"The configuration key 'Authentication:Schemes:{Scheme}:{name}' is a JwtBearer option", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Isuer", "https://kubernetes.default.svc", "The configuration key 'Authentication:Schemes:KubernetesServiceAccount:Isuer' is not an option of the Kubernetes service-account handler; did you mean 'Issuer'?")]
    [InlineData("jwksuri", "https://k8s.example/openid/v1/jwks", null)]
    [InlineData("ClockSkw", "00:01:00", "did you mean 'ClockSkew'?")]
    [InlineData("TokenReview:Enable", "true", "'Authentication:Schemes:KubernetesServiceAccount:TokenReview:Enable' is not an option of the Kubernetes service-account handler; did you mean 'Enabled'?")]
    [InlineData("TokenRevew:Enabled", "true", "The configuration section 'Authentication:Schemes:KubernetesServiceAccount:TokenRevew' is not one the Kubernetes service-account handler reads; did you mean 'TokenReview'?")]
    [InlineData("Colour", "blue", "'Authentication:Schemes:KubernetesServiceAccount:Colour' is not an option of the Kubernetes service-account handler; remove it")]
    public void A_key_the_handler_does_not_read_stops_the_start(string key, string value, string? expected)
    {
        var error = StartError(key, value);

        if (expected is null)
        {
            // Configuration keys are case-insensitive: a key that differs only in case is the option itself.
            Assert.Null(error);
        }
        else
        {
            Assert.Contains(expected, error, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("ClusterView:Enabled", "true")]
    [InlineData("Clusters:east:Issuer", "https://east.example")]
    [InlineData("Audiences:1", "second")]
    [InlineData("AdditionalIssuers:0", "https://old.example")]
    public void Sections_other_parts_bind_and_array_items_are_not_unknown_keys(string key, string value)
    {
        Assert.Null(KubernetesServiceAccountConfigurationKeys.FindUnknownKey(Section(key, value)));
    }

    private static string? StartError(string key, string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"Authentication:Schemes:{Scheme}:Issuer"] = "https://kubernetes.default.svc",
            [$"Authentication:Schemes:{Scheme}:Audiences:0"] = "my-api",
            [$"Authentication:Schemes:{Scheme}:{key}"] = value,
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddAuthentication().AddKubernetesServiceAccount();
        using var provider = services.BuildServiceProvider();
        try
        {
            provider.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(Scheme);
            return null;
        }
        catch (InvalidOperationException ex)
        {
            return ex.Message;
        }
    }

    private static IConfigurationSection Section(string key, string value) =>
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"Authentication:Schemes:{Scheme}:Issuer"] = "https://kubernetes.default.svc",
            [$"Authentication:Schemes:{Scheme}:Audiences:0"] = "my-api",
            [$"Authentication:Schemes:{Scheme}:{key}"] = value,
        }).Build().GetSection($"Authentication:Schemes:{Scheme}");

    private async Task<HttpClient> StartAsync(Action<KubernetesServiceAccountOptions> configure, Dictionary<string, string?>? configuration = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseTestServer();
        if (configuration is not null)
        {
            builder.Configuration.AddInMemoryCollection(configuration.ToDictionary(kv => $"Authentication:Schemes:{Scheme}:{kv.Key}", kv => kv.Value));
        }

        builder.Services.AddAuthentication(Scheme).AddKubernetesServiceAccount(o =>
        {
            _issuer.Configure(o, inProcess: true);
            configure(o);
        });
        builder.Services.AddAuthorization();
        _app = builder.Build();
        _app.UseAuthentication();
        _app.UseAuthorization();
        _app.MapGet("/token", async (HttpContext context) => await context.GetTokenAsync("access_token") ?? "(null)").RequireAuthorization();
        _app.MapGet("/name", (HttpContext context) => context.User.Identity!.Name ?? "(null)").RequireAuthorization();
        _app.MapGet("/role", () => "ok").RequireAuthorization(new AuthorizeAttribute { Roles = "team-a" });
        _app.MapGet("/group", () => "ok").RequireAuthorization(new AuthorizeAttribute { Roles = "system:serviceaccounts:team-a" });
        await _app.StartAsync();
        return _app.GetTestClient();
    }

    private static async Task<string> GetAsync(HttpClient client, string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await client.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {response.Headers.WwwAuthenticate}");
        return await response.Content.ReadAsStringAsync();
    }

    private static async Task<HttpStatusCode> SendAsync(HttpClient client, string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }
}
