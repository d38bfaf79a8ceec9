// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Claims;
using KubeSaAuth.Authorization;
using KubeSaAuth.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Tests.Authorization;

/// <summary>Policies are built once per name and kept, so that a request neither parses a name nor builds a policy.</summary>
public sealed class PolicyProviderCacheTests
{
    private static KubernetesAuthorizationPolicyProvider NewProvider(Action<AuthorizationOptions>? configure = null)
    {
        var authentication = new AuthenticationOptions();
        authentication.AddScheme("k8s", b => b.HandlerType = typeof(KubernetesServiceAccountHandler));
        var authorization = new AuthorizationOptions();
        configure?.Invoke(authorization);
        var kubernetesOptions = new ServiceCollection().AddOptions().BuildServiceProvider().GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>();
        var schemes = new KubernetesPolicySchemes(new AuthenticationSchemeProvider(Microsoft.Extensions.Options.Options.Create(authentication)), kubernetesOptions);
        return new KubernetesAuthorizationPolicyProvider(Microsoft.Extensions.Options.Options.Create(authorization), schemes);
    }

    [Fact]
    public async Task Returns_the_same_policy_object_for_a_name_on_every_call()
    {
        var provider = NewProvider();

        var built = await provider.GetPolicyAsync("namespace:my-namespace");
        var first = provider.GetPolicyAsync("namespace:my-namespace");
        var second = provider.GetPolicyAsync("namespace:my-namespace");

        // Later lookups hand out one completed task: nothing is parsed, built or allocated.
        Assert.Same(built, await first);
        Assert.Same(first, second);
        Assert.Equal(["k8s"], built!.AuthenticationSchemes);
    }

    [Fact]
    public async Task Remembers_names_that_are_not_policies()
    {
        var provider = NewProvider();

        Assert.Null(await provider.GetPolicyAsync("no-such-policy"));
        Assert.Null(await provider.GetPolicyAsync("no-such-policy"));
        Assert.Same(provider.GetPolicyAsync("no-such-policy"), provider.GetPolicyAsync("no-such-policy"));
    }

    [Fact]
    public async Task Prefers_a_registered_policy_of_the_same_name()
    {
        var registered = new AuthorizationPolicyBuilder().RequireClaim("x").Build();
        var provider = NewProvider(o => o.AddPolicy("namespace:my-namespace", registered));

        Assert.Same(registered, await provider.GetPolicyAsync("namespace:my-namespace"));
    }

    [Fact]
    public void Lets_the_authorization_middleware_cache_the_policies_it_combines() =>
        Assert.True(NewProvider().AllowsCachingPolicies);

    [Fact]
    public async Task Stops_caching_past_MaxCachedPolicies_but_still_answers()
    {
        var provider = NewProvider();
        for (var i = 0; i < KubernetesAuthorizationPolicyProvider.MaxCachedPolicies; i++)
        {
            await provider.GetPolicyAsync($"namespace:ns-{i}");
        }

        var first = await provider.GetPolicyAsync("namespace:one-too-many");
        var second = await provider.GetPolicyAsync("namespace:one-too-many");

        Assert.NotNull(first);
        Assert.NotSame(first, second);
        Assert.Same(await provider.GetPolicyAsync("namespace:ns-0"), await provider.GetPolicyAsync("namespace:ns-0"));
    }

    [Fact]
    public void Registers_one_provider_for_the_application()
    {
        var services = new ServiceCollection();
        services.AddAuthorization();
        services.AddAuthentication().AddKubernetesServiceAccount(o => o.Audiences.Add("my-api"));
        using var provider = services.BuildServiceProvider();

        using var scope = provider.CreateScope();
        var fromRoot = provider.GetRequiredService<IAuthorizationPolicyProvider>();

        Assert.IsType<KubernetesAuthorizationPolicyProvider>(fromRoot);
        Assert.Same(fromRoot, scope.ServiceProvider.GetRequiredService<IAuthorizationPolicyProvider>());
    }

    [Fact]
    public async Task Checks_every_kubernetes_identity_of_a_principal_and_every_requirement_of_the_policy()
    {
        var other = new KubernetesClaimsIdentity(Account("other-namespace", "a"), "east");
        var mine = new KubernetesClaimsIdentity(Account("my-namespace", "b"), "west");
        var principal = new ClaimsPrincipal([new ClaimsIdentity(), other, mine]);
        var first = new KubernetesServiceAccountRequirement("my-namespace");
        var second = new KubernetesServiceAccountRequirement("my-*", cluster: "west");
        var context = new AuthorizationHandlerContext([first, second], principal, null);

        await first.HandleAsync(context);

        Assert.True(context.HasSucceeded);
    }

    [Fact]
    public async Task Refuses_a_caller_without_an_authenticated_kubernetes_identity_with_its_one_requirement()
    {
        var policy = (await NewProvider().GetPolicyAsync("namespace:*"))!;
        var requirement = Assert.IsType<KubernetesServiceAccountRequirement>(Assert.Single(policy.Requirements));
        var anonymous = new ClaimsPrincipal(new ClaimsIdentity());
        var unauthenticated = new ClaimsPrincipal(new KubernetesClaimsIdentity(Account("my-namespace", "b"), string.Empty));
        var otherScheme = new ClaimsPrincipal(new ClaimsIdentity([new Claim(KubernetesClaimTypes.Namespace, "my-namespace")], "Bearer"));

        foreach (var principal in new[] { anonymous, unauthenticated, otherScheme })
        {
            var context = new AuthorizationHandlerContext(policy.Requirements, principal, null);
            await requirement.HandleAsync(context);
            Assert.False(context.HasSucceeded);
        }
    }

    private static KubernetesServiceAccount Account(string ns, string name) => new()
    {
        Namespace = ns,
        Name = name,
        Uid = "uid",
        Issuer = "https://kubernetes.test",
        Cluster = name == "a" ? "east" : "west",
        IsLegacy = false,
        Audiences = ["my-api"],
    };
}
