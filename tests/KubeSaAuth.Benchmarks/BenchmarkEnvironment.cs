// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Claims;
using KubeSaAuth.Caching;
using KubeSaAuth.Testing;
using KubeSaAuth.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Benchmarks;

/// <summary>
/// One service provider with both handlers configured for the same issuer, keys and audience:
/// KubeSaAuth (<c>k8s</c>, and <c>k8s-nocache</c> with the validation cache off) and plain JwtBearer
/// (<c>jwt</c>, and <c>jwt-legacy</c> set up to accept legacy tokens). A "request" is what the
/// authentication and authorization middlewares do: a fresh request scope and HttpContext, authenticate,
/// then authorize a namespace policy.
/// </summary>
internal sealed class BenchmarkEnvironment : IAsyncDisposable
{
    public const string KubeScheme = "k8s";
    public const string KubeNoCacheScheme = "k8s-nocache";
    public const string JwtScheme = "jwt";
    public const string JwtLegacyScheme = "jwt-legacy";
    public const string Namespace = "my-namespace";

    private readonly ServiceProvider _services;
    private readonly IServiceScopeFactory _scopes;
    private readonly IAuthorizationService _authorization;

    private BenchmarkEnvironment(KubernetesTestIssuer issuer, ServiceProvider services)
    {
        Issuer = issuer;
        _services = services;
        _scopes = services.GetRequiredService<IServiceScopeFactory>();
        _authorization = services.GetRequiredService<IAuthorizationService>();
        var policies = services.GetRequiredService<IAuthorizationPolicyProvider>();
        KubePolicy = policies.GetPolicyAsync("namespace:" + Namespace).GetAwaiter().GetResult()!;
        JwtPolicy = new AuthorizationPolicyBuilder()
            .RequireAuthenticatedUser()
            .RequireAssertion(static context =>
                context.User.FindFirst(ClaimTypes.NameIdentifier)?.Value.StartsWith("system:serviceaccount:" + Namespace + ":", StringComparison.Ordinal) == true)
            .Build();
        var schemes = services.GetRequiredService<IAuthenticationSchemeProvider>();
        KubeSchemeInfo = schemes.GetSchemeAsync(KubeScheme).GetAwaiter().GetResult()!;
        JwtSchemeInfo = schemes.GetSchemeAsync(JwtScheme).GetAwaiter().GetResult()!;
    }

    public KubernetesTestIssuer Issuer { get; }

    /// <summary>The policy <c>namespace:my-namespace</c>, from KubeSaAuth's policy provider.</summary>
    public AuthorizationPolicy KubePolicy { get; }

    /// <summary>The same rule for JwtBearer: <c>sub</c> (mapped to NameIdentifier) starts with <c>system:serviceaccount:my-namespace:</c>.</summary>
    public AuthorizationPolicy JwtPolicy { get; }

    public AuthenticationScheme KubeSchemeInfo { get; }

    public AuthenticationScheme JwtSchemeInfo { get; }

    public IServiceProvider Services => _services;

    public KubeSaAuth.Keys.SigningKeySource KubeKeys => _services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(KubeScheme).Runtime!.Keys;

    public ValidationCache? KubeCache => _services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(KubeScheme).Runtime?.Cache;

    public static async Task<BenchmarkEnvironment> CreateAsync(Action<KubernetesServiceAccountOptions>? configureKube = null)
    {
        var issuer = new KubernetesTestIssuer();
        var signingKeys = new JsonWebKeySet(issuer.GetJwks()).GetSigningKeys();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddAuthentication()
            .AddKubernetesServiceAccount(KubeScheme, o =>
            {
                issuer.Configure(o, inProcess: true);
                o.AcceptLegacyTokens = true;
                configureKube?.Invoke(o);
            })
            .AddKubernetesServiceAccount(KubeNoCacheScheme, o =>
            {
                issuer.Configure(o, inProcess: true);
                o.AcceptLegacyTokens = true;
                o.ValidationCache.Enabled = false;
            })
            .AddJwtBearer(JwtScheme, o =>
            {
                o.RequireHttpsMetadata = false;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = issuer.Issuer,
                    ValidAudiences = issuer.DefaultAudiences,
                    IssuerSigningKeys = signingKeys,
                    ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
                };
            })
            .AddJwtBearer(JwtLegacyScheme, o =>
            {
                o.RequireHttpsMetadata = false;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = KubernetesServiceAccountDefaults.LegacyIssuer,
                    ValidateAudience = false,
                    RequireExpirationTime = false,
                    IssuerSigningKeys = signingKeys,
                    ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
                };
            });
        services.AddAuthorization();
        var provider = services.BuildServiceProvider();
        var environment = new BenchmarkEnvironment(issuer, provider);
        await environment.WarmUpAsync().ConfigureAwait(false);
        return environment;
    }

    /// <summary>A realistic pod-bound token (pod, node, kid): about 1 KB.</summary>
    public string CreateToken(TestSigningKey? key = null)
    {
        var builder = Issuer.CreateToken(Namespace, "my-service-account")
            .WithPod("my-app-7d9f8b6c5-x2x9q", Guid.NewGuid().ToString())
            .WithNode("ip-10-0-12-34.eu-west-1.compute.internal", Guid.NewGuid().ToString());
        if (key is not null)
        {
            builder.SignedWith(key);
        }

        return builder.Build();
    }

    /// <summary>A valid token whose signature is that of another token: every check passes but the signature.</summary>
    public string CreateInvalidSignatureToken()
    {
        var token = CreateToken();
        var other = CreateToken();
        return string.Concat(token.AsSpan(0, token.LastIndexOf('.') + 1), other.AsSpan(other.LastIndexOf('.') + 1));
    }

    public string CreateLegacyToken() =>
        Issuer.CreateToken(Namespace, "my-service-account").Legacy().Build();

    /// <summary>Authenticate + authorize, as the two middlewares do for one request.</summary>
    public async Task<bool> RequestAsync(string scheme, string authorization, AuthorizationPolicy policy)
    {
        var scope = _scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
            context.Request.Headers.Authorization = authorization;
            var result = await context.AuthenticateAsync(scheme).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                return false;
            }

            var authorized = await _authorization.AuthorizeAsync(result.Principal, null, policy).ConfigureAwait(false);
            return authorized.Succeeded;
        }
    }

    /// <summary>Authenticate only, without the policy: what the authentication middleware does.</summary>
    public async Task<bool> AuthenticateOnlyAsync(string scheme, string authorization)
    {
        var scope = _scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
            context.Request.Headers.Authorization = authorization;
            var result = await context.AuthenticateAsync(scheme).ConfigureAwait(false);
            return result.Succeeded;
        }
    }

    /// <summary>Authorization alone, for a principal authenticated beforehand: what the authorization middleware adds.</summary>
    public async Task<bool> AuthorizeOnlyAsync(ClaimsPrincipal principal, AuthorizationPolicy policy) =>
        (await _authorization.AuthorizeAsync(principal, null, policy).ConfigureAwait(false)).Succeeded;

    /// <summary>The floor of every request in this harness: a request scope and an HttpContext with the header, nothing authenticated.</summary>
    public async Task<bool> EmptyRequestAsync(string authorization)
    {
        var scope = _scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
            context.Request.Headers.Authorization = authorization;
            return context.Request.Headers.Authorization.Count == 1;
        }
    }

    /// <summary>The handler alone: a new handler (as the handler provider makes one per request), initialize, authenticate.</summary>
    public Task<AuthenticateResult> AuthenticateWithKubeHandlerAsync(HttpContext context) =>
        AuthenticateWithHandlerAsync(typeof(KubernetesServiceAccountHandler), KubeSchemeInfo, context);

    /// <summary>A KubeSaAuth handler of <paramref name="scheme"/> alone.</summary>
    public Task<AuthenticateResult> AuthenticateWithHandlerAsync(string scheme, HttpContext context) =>
        AuthenticateWithHandlerAsync(typeof(KubernetesServiceAccountHandler), _services.GetRequiredService<IAuthenticationSchemeProvider>().GetSchemeAsync(scheme).GetAwaiter().GetResult()!, context);

    /// <summary>JwtBearer's handler alone, as <see cref="AuthenticateWithKubeHandlerAsync"/>.</summary>
    public Task<AuthenticateResult> AuthenticateWithJwtHandlerAsync(HttpContext context) =>
        AuthenticateWithHandlerAsync(typeof(JwtBearerHandler), JwtSchemeInfo, context);

    /// <summary>A new KubeSaAuth handler, initialized for <paramref name="context"/> (allocation measurement).</summary>
    public async Task<IAuthenticationHandler> CreateInitializedKubeHandlerAsync(HttpContext context)
    {
        var handler = (IAuthenticationHandler)_services.GetRequiredService(typeof(KubernetesServiceAccountHandler));
        await handler.InitializeAsync(KubeSchemeInfo, context).ConfigureAwait(false);
        return handler;
    }

    public HttpContext CreateContext(string authorization)
    {
        var context = new DefaultHttpContext { RequestServices = _services };
        context.Request.Headers.Authorization = authorization;
        return context;
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync().ConfigureAwait(false);
        await Issuer.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The part of "handler only" that is the framework's: resolve a new handler and initialize it, no authentication.</summary>
    public async Task InitializeKubeHandlerAsync(HttpContext context)
    {
        var handler = (IAuthenticationHandler)_services.GetRequiredService(typeof(KubernetesServiceAccountHandler));
        await handler.InitializeAsync(KubeSchemeInfo, context).ConfigureAwait(false);
    }

    private async Task<AuthenticateResult> AuthenticateWithHandlerAsync(Type handlerType, AuthenticationScheme scheme, HttpContext context)
    {
        // As AuthenticationHandlerProvider does: handlers are transient services, one per request.
        var handler = (IAuthenticationHandler)_services.GetRequiredService(handlerType);
        await handler.InitializeAsync(scheme, context).ConfigureAwait(false);
        return await handler.AuthenticateAsync().ConfigureAwait(false);
    }

    private async Task WarmUpAsync()
    {
        // Fetches the keys of both KubeSaAuth schemes and JIT-compiles every path.
        var token = "Bearer " + CreateToken();
        foreach (var scheme in new[] { KubeScheme, KubeNoCacheScheme })
        {
            if (!await RequestAsync(scheme, token, KubePolicy).ConfigureAwait(false))
            {
                throw new InvalidOperationException($"Warm-up: scheme {scheme} refused a valid token.");
            }
        }

        if (!await RequestAsync(JwtScheme, token, JwtPolicy).ConfigureAwait(false))
        {
            throw new InvalidOperationException("Warm-up: JwtBearer refused a valid token.");
        }
    }
}
