// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Claims;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.Tokens;

namespace KubeSaAuth.Tests.Tokens;

public sealed class ClaimMappingTests
{
    private readonly KubernetesTestIssuer _issuer = ValidatorHarness.NewIssuer();

    [Fact]
    public async Task Maps_every_kubernetes_claim_of_a_pod_bound_token()
    {
        var principal = await AuthenticateAsync(_issuer.CreateToken("team-a", "worker")
            .WithServiceAccountUid("sa-uid").WithPod("worker-1", "pod-uid").WithNode("node-1", "node-uid").Build());

        Assert.Equal("system:serviceaccount:team-a:worker", principal.Identity!.Name);
        Assert.Equal("system:serviceaccount:team-a:worker", principal.FindFirstValue(ClaimTypes.NameIdentifier));
        Assert.Equal("team-a", principal.FindFirstValue(KubernetesClaimTypes.Namespace));
        Assert.Equal("worker", principal.FindFirstValue(KubernetesClaimTypes.ServiceAccountName));
        Assert.Equal("sa-uid", principal.FindFirstValue(KubernetesClaimTypes.ServiceAccountUid));
        Assert.Equal("worker-1", principal.FindFirstValue(KubernetesClaimTypes.PodName));
        Assert.Equal("pod-uid", principal.FindFirstValue(KubernetesClaimTypes.PodUid));
        Assert.Equal("node-1", principal.FindFirstValue(KubernetesClaimTypes.NodeName));
        Assert.Equal("node-uid", principal.FindFirstValue(KubernetesClaimTypes.NodeUid));
        Assert.Equal(KubernetesClaimTypes.BoundTokenKind, principal.FindFirstValue(KubernetesClaimTypes.TokenKind));
        Assert.Equal("my-api", principal.FindFirstValue(KubernetesClaimTypes.Audience));
        Assert.NotNull(principal.FindFirstValue(KubernetesClaimTypes.TokenId));
        Assert.All(principal.Claims, c => Assert.Equal(_issuer.Issuer, c.Issuer));
    }

    [Fact]
    public async Task Maps_the_secret_of_a_secret_bound_token()
    {
        var principal = await AuthenticateAsync(_issuer.CreateToken("team-a", "worker").WithSecret("s1", "s-uid").Build());

        Assert.Equal("s1", principal.FindFirstValue(KubernetesClaimTypes.SecretName));
        Assert.Equal("s-uid", principal.FindFirstValue(KubernetesClaimTypes.SecretUid));
    }

    [Fact]
    public async Task Leaves_out_claims_the_token_does_not_carry()
    {
        var principal = await AuthenticateAsync(_issuer.CreateToken("team-a", "worker").Build());

        Assert.Null(principal.FindFirst(KubernetesClaimTypes.PodName));
        Assert.Null(principal.FindFirst(KubernetesClaimTypes.NodeName));
        Assert.Null(principal.FindFirst(KubernetesClaimTypes.SecretName));
    }

    [Fact]
    public async Task Grants_the_groups_kubernetes_grants_as_roles()
    {
        var principal = await AuthenticateAsync(_issuer.CreateToken("team-a", "worker").Build());

        Assert.True(principal.IsInRole("system:serviceaccounts"));
        Assert.True(principal.IsInRole("system:serviceaccounts:team-a"));
        Assert.False(principal.IsInRole("system:serviceaccounts:team-b"));
    }

    [Fact]
    public async Task Names_the_cluster_after_the_scheme_by_default()
    {
        var principal = await AuthenticateAsync(_issuer.CreateToken().Build());

        Assert.Equal("test", principal.FindFirstValue(KubernetesClaimTypes.Cluster));
    }

    [Fact]
    public async Task Names_the_cluster_after_ClusterName_when_set()
    {
        var principal = await AuthenticateAsync(_issuer.CreateToken().Build(), o => o.ClusterName = "prod-eu");

        Assert.Equal("prod-eu", principal.FindFirstValue(KubernetesClaimTypes.Cluster));
        Assert.Equal("prod-eu", principal.GetKubernetesServiceAccount()!.Cluster);
    }

    [Fact]
    public async Task Offers_a_typed_view_of_a_bound_caller()
    {
        var principal = await AuthenticateAsync(_issuer.CreateToken("team-a", "worker").WithPod("worker-1").WithLifetime(TimeSpan.FromMinutes(10)).Build());

        var sa = principal.GetKubernetesServiceAccount();

        Assert.NotNull(sa);
        Assert.Equal("team-a", sa.Namespace);
        Assert.Equal("worker", sa.Name);
        Assert.Equal("worker-1", sa.PodName);
        Assert.Equal(_issuer.Issuer, sa.Issuer);
        Assert.False(sa.IsLegacy);
        Assert.Equal(_issuer.TimeProvider.GetUtcNow().AddMinutes(10).ToUnixTimeSeconds(), sa.ExpiresAt!.Value.ToUnixTimeSeconds());
        Assert.Equal("system:serviceaccount:team-a:worker", sa.Username);
        Assert.Contains("system:serviceaccounts:team-a", sa.Groups);
    }

    [Fact]
    public async Task Offers_a_typed_view_of_a_legacy_caller()
    {
        var principal = await AuthenticateAsync(_issuer.CreateToken("team-a", "worker").Legacy("worker-token").Build(), o => o.AcceptLegacyTokens = true);

        var sa = principal.GetKubernetesServiceAccount()!;

        Assert.True(sa.IsLegacy);
        Assert.Null(sa.ExpiresAt);
        Assert.Equal("worker-token", sa.SecretName);
        Assert.Equal(KubernetesClaimTypes.LegacyTokenKind, principal.FindFirstValue(KubernetesClaimTypes.TokenKind));
    }

    [Fact]
    public void Typed_view_is_null_for_a_principal_of_another_scheme()
    {
        var principal = new ClaimsPrincipal(new ClaimsIdentity([new Claim(KubernetesClaimTypes.Namespace, "team-a")], "Cookies"));

        Assert.Null(principal.GetKubernetesServiceAccount());
    }

    [Fact]
    public async Task Typed_view_survives_cloning_the_principal()
    {
        var principal = await AuthenticateAsync(_issuer.CreateToken("team-a", "worker").Build());

        Assert.Equal("team-a", principal.Clone().GetKubernetesServiceAccount()!.Namespace);
    }

    private async Task<ClaimsPrincipal> AuthenticateAsync(string token, Action<KubernetesServiceAccountOptions>? configure = null)
    {
        using var harness = ValidatorHarness.For(_issuer, configure);
        var caller = await harness.AssertAcceptedAsync(token);
        return new ClaimsPrincipal(new KubernetesClaimsIdentity(caller, "test"));
    }
}
