// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Security.Claims;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection;

namespace KubeSaAuth.Tests.Tokens;

/// <summary>
/// The identity builds its claims lazily; copies made by claims transformations (Clone, the
/// <see cref="ClaimsIdentity"/> copy constructor) must still carry every claim.
/// </summary>
public sealed class ClaimsCopyTests
{
    private readonly KubernetesTestIssuer _issuer = ValidatorHarness.NewIssuer();

    // The host runs on the real clock.
    private readonly KubernetesTestIssuer _servedIssuer = new();

    [Fact]
    public async Task Clone_carries_every_claim_the_authentication_type_and_the_claim_types()
    {
        var identity = await CreateIdentityAsync();

        var clone = identity.Clone();

        Assert.IsType<KubernetesClaimsIdentity>(clone);
        AssertSameIdentity(identity, clone);
    }

    [Fact]
    public async Task The_claims_identity_copy_constructor_carries_every_claim()
    {
        var identity = await CreateIdentityAsync();

        var copy = new ClaimsIdentity(identity);

        AssertSameIdentity(identity, copy);
        Assert.Equal(identity.ServiceAccount.Username, copy.Name);
    }

    [Fact]
    public async Task A_cloned_principal_carries_every_claim()
    {
        var identity = await CreateIdentityAsync();

        var clone = new ClaimsPrincipal(identity).Clone();

        AssertSameIdentity(identity, Assert.Single(clone.Identities));
        Assert.Equal("my-namespace", clone.GetKubernetesServiceAccount()?.Namespace);
    }

    [Fact]
    public async Task A_namespace_policy_passes_after_a_claims_transformation_that_clones_the_principal()
    {
        await using var host = await HardeningHost.StartAsync(_servedIssuer, services: s => s.AddSingleton<IClaimsTransformation, CloningTransformation>());
        var token = _servedIssuer.CreateToken("my-namespace", "caller").Build();

        using var guarded = await host.GetAsync("/ns", token);
        using var claim = await host.GetAsync("/claim", token);

        Assert.Equal(HttpStatusCode.OK, guarded.StatusCode);
        Assert.Equal("my-namespace", await claim.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_claims_survive_a_claims_transformation_that_copies_the_identity()
    {
        await using var host = await HardeningHost.StartAsync(_servedIssuer, services: s => s.AddSingleton<IClaimsTransformation, CopyingTransformation>());

        using var claim = await host.GetAsync("/claim", _servedIssuer.CreateToken("my-namespace", "caller").Build());

        Assert.Equal("my-namespace", await claim.Content.ReadAsStringAsync());
    }

    private static void AssertSameIdentity(KubernetesClaimsIdentity original, ClaimsIdentity copy)
    {
        var expected = original.Claims.Select(c => (c.Type, c.Value, c.Issuer)).ToList();
        Assert.True(expected.Count > 8, $"only {expected.Count} claims");
        Assert.Equal(expected, copy.Claims.Select(c => (c.Type, c.Value, c.Issuer)));
        Assert.Equal(original.AuthenticationType, copy.AuthenticationType);
        Assert.Equal(original.NameClaimType, copy.NameClaimType);
        Assert.Equal(original.RoleClaimType, copy.RoleClaimType);
        Assert.True(copy.IsAuthenticated);
    }

    private async Task<KubernetesClaimsIdentity> CreateIdentityAsync()
    {
        using var harness = ValidatorHarness.For(_issuer);
        var caller = await harness.AssertAcceptedAsync(_issuer.CreateToken("my-namespace", "caller").WithPod("caller-7d9f").Build());
        var identity = new KubernetesClaimsIdentity(caller, KubernetesServiceAccountDefaults.AuthenticationScheme);
        Assert.False(identity.ClaimsMaterialized);
        return identity;
    }

    /// <summary>The common pattern: clone, add an application identity, return the clone.</summary>
    private sealed class CloningTransformation : IClaimsTransformation
    {
        public Task<ClaimsPrincipal> TransformAsync(ClaimsPrincipal principal)
        {
            var clone = principal.Clone();
            clone.AddIdentity(new ClaimsIdentity([new Claim("app-role", "reader")]));
            return Task.FromResult(clone);
        }
    }

    /// <summary>Copies the identity into a plain ClaimsIdentity and adds a claim.</summary>
    private sealed class CopyingTransformation : IClaimsTransformation
    {
        public Task<ClaimsPrincipal> TransformAsync(ClaimsPrincipal principal)
        {
            var copy = new ClaimsIdentity(principal.Identity);
            copy.AddClaim(new Claim("app-role", "reader"));
            return Task.FromResult(new ClaimsPrincipal(copy));
        }
    }
}
