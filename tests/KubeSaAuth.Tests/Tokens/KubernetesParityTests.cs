// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Security.Claims;
using System.Text.Json.Nodes;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.Tokens;

namespace KubeSaAuth.Tests.Tokens;

/// <summary>
/// Issue 11 §6: the rules Kubernetes' own validator applies (k8s pkg/serviceaccount/claims.go, legacy.go;
/// k8s.io/apiserver serviceaccount/util.go), so that a token the API server would never accept is not accepted
/// here, and a real one is.
/// </summary>
public sealed class KubernetesParityTests
{
    private static readonly string Label63 = new('a', 63);

    // Five labels: 4 × 50 + 49 + 4 dots = 253.
    private static readonly string Subdomain253 = string.Join('.', Enumerable.Repeat(new string('b', 50), 4).Append(new string('c', 49)));

    private readonly KubernetesTestIssuer _issuer = ValidatorHarness.NewIssuer();

    // ---- names: a namespace is a DNS-1123 label ----

    [Theory]
    [InlineData("My-Namespace")]
    [InlineData("team:a")]
    [InlineData("team@cluster-b")]
    [InlineData("*")]
    [InlineData("team-*")]
    [InlineData("-team")]
    [InlineData("team-")]
    [InlineData("team.a")]
    [InlineData("team_a")]
    [InlineData("team a")]
    [InlineData("équipe")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")] // 64
    public async Task Refuses_bound_token_whose_namespace_is_not_a_dns1123_label(string ns)
    {
        using var harness = ValidatorHarness.For(_issuer);

        var failure = await harness.AssertRefusedAsync(_issuer.CreateToken(ns, "caller").Build(), KubernetesTokenFailureReason.InvalidClaims);

        Assert.Contains("DNS-1123 label", failure.Description, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("0")]
    [InlineData("kube-system")]
    [InlineData("team-2-prod")]
    public async Task Accepts_namespace_that_is_a_dns1123_label(string ns)
    {
        using var harness = ValidatorHarness.For(_issuer);

        var caller = await harness.AssertAcceptedAsync(_issuer.CreateToken(ns, "caller").Build());

        Assert.Equal(ns, caller.Namespace);
    }

    [Fact]
    public async Task Accepts_namespace_of_63_characters()
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertAcceptedAsync(_issuer.CreateToken(Label63, "caller").Build());
    }

    // ---- names: a service account is a DNS-1123 subdomain ----

    [Theory]
    [InlineData("Admin")]
    [InlineData("caller:admin")]
    [InlineData("caller@cluster-b")]
    [InlineData("*")]
    [InlineData("a..b")]
    [InlineData(".caller")]
    [InlineData("caller.")]
    [InlineData("-caller")]
    [InlineData("caller-.x")]
    [InlineData("caller_1")]
    [InlineData("caller/x")]
    public async Task Refuses_bound_token_whose_service_account_name_is_not_a_dns1123_subdomain(string name)
    {
        using var harness = ValidatorHarness.For(_issuer);

        var failure = await harness.AssertRefusedAsync(_issuer.CreateToken("my-namespace", name).Build(), KubernetesTokenFailureReason.InvalidClaims);

        Assert.Contains("DNS-1123 subdomain", failure.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refuses_service_account_name_of_254_characters()
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(_issuer.CreateToken("my-namespace", Subdomain253 + "c").Build(), KubernetesTokenFailureReason.InvalidClaims);
    }

    [Fact]
    public async Task Accepts_service_account_names_with_dots_up_to_253_characters()
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertAcceptedAsync(_issuer.CreateToken("my-namespace", "build.robot-1").Build());
        await harness.AssertAcceptedAsync(_issuer.CreateToken("my-namespace", Subdomain253).Build());

        // As Kubernetes: the labels of a subdomain are not limited to 63 characters each.
        await harness.AssertAcceptedAsync(_issuer.CreateToken("my-namespace", new string('d', 100)).Build());
    }

    [Theory]
    [InlineData("My-Namespace", "caller")]
    [InlineData("team:a", "caller")]
    [InlineData("my-namespace", "caller@cluster-b")]
    [InlineData("my-namespace", "Caller")]
    [InlineData("my-namespace", "*")]
    public async Task Refuses_legacy_token_whose_namespace_or_name_is_not_a_kubernetes_name(string ns, string name)
    {
        using var harness = ValidatorHarness.For(_issuer, o => o.AcceptLegacyTokens = true);

        await harness.AssertRefusedAsync(_issuer.CreateToken(ns, name).Legacy("caller-token").Build(), KubernetesTokenFailureReason.InvalidClaims);
    }

    [Fact]
    public async Task Refuses_legacy_token_whose_secret_name_is_not_a_dns1123_subdomain()
    {
        using var harness = ValidatorHarness.For(_issuer, o => o.AcceptLegacyTokens = true);

        await harness.AssertRefusedAsync(_issuer.CreateToken("my-namespace", "caller").Legacy("Caller_Token").Build(), KubernetesTokenFailureReason.InvalidClaims);
    }

    [Fact]
    public async Task Accepts_legacy_token_with_kubernetes_names()
    {
        using var harness = ValidatorHarness.For(_issuer, o => o.AcceptLegacyTokens = true);

        var caller = await harness.AssertAcceptedAsync(_issuer.CreateToken("my-namespace", "build.robot").Legacy("build.robot-token-x2x9q").Build());

        Assert.True(caller.IsLegacy);
    }

    [Theory]
    [InlineData("team-a@cluster-b")]
    [InlineData("team-a:admin")]
    [InlineData("team-A")]
    [InlineData("team-*")]
    public async Task A_namespace_no_kubernetes_object_can_have_never_reaches_a_policy(string ns)
    {
        // Without the rule, 'namespace:team-*' admitted each of these (a prefix match).
        var issuer = new KubernetesTestIssuer();
        await using var host = await PolicyHost.StartAsync(
            new Dictionary<string, KubernetesTestIssuer> { [KubernetesServiceAccountDefaults.AuthenticationScheme] = issuer },
            app => PolicyHost.MapGuarded(app, "/p", "namespace:team-*"));

        using var refused = await host.GetAsync("/p", issuer.CreateToken(ns, "worker").Build());
        using var admitted = await host.GetAsync("/p", issuer.CreateToken("team-a", "worker").Build());

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("DNS-1123 label", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
    }

    // ---- pod, secret and node references: name and uid ----

    [Theory]
    [InlineData("pod", null, "uid-1")]
    [InlineData("pod", "caller-7d9f", null)]
    [InlineData("pod", "", "uid-1")]
    [InlineData("pod", "caller-7d9f", "")]
    [InlineData("pod", null, null)]
    [InlineData("secret", null, "uid-1")]
    [InlineData("secret", "caller-secret", null)]
    [InlineData("secret", "caller-secret", "")]
    [InlineData("node", null, "uid-1")]
    [InlineData("node", "node-1", null)]
    [InlineData("node", "node-1", "")]
    public async Task Refuses_a_bound_object_reference_without_both_name_and_uid(string kind, string? name, string? uid)
    {
        using var harness = ValidatorHarness.For(_issuer);
        var token = Token(new JsonObject { [kind] = Reference(name, uid) });

        var failure = await harness.AssertRefusedAsync(token, KubernetesTokenFailureReason.MissingClaim);

        Assert.Contains($"{kind} reference", failure.Description, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("pod", "Caller-7d9f")]
    [InlineData("pod", "caller:7d9f")]
    [InlineData("secret", "caller_secret")]
    [InlineData("node", "Node-1")]
    [InlineData("node", "node-1.")]
    public async Task Refuses_a_bound_object_whose_name_is_not_a_dns1123_subdomain(string kind, string name)
    {
        using var harness = ValidatorHarness.For(_issuer);

        var failure = await harness.AssertRefusedAsync(Token(new JsonObject { [kind] = Reference(name, "uid-1") }), KubernetesTokenFailureReason.InvalidClaims);

        Assert.Contains("DNS-1123 subdomain", failure.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Accepts_a_token_bound_to_a_node_alone_with_name_and_uid()
    {
        using var harness = ValidatorHarness.For(_issuer);

        var caller = await harness.AssertAcceptedAsync(Token(new JsonObject { ["node"] = Reference("ip-10-0-12-34.eu-west-1.compute.internal", "node-uid") }));

        Assert.Equal("ip-10-0-12-34.eu-west-1.compute.internal", caller.NodeName);
        Assert.Equal("node-uid", caller.NodeUid);
        Assert.Null(caller.PodName);
    }

    [Fact]
    public async Task Accepts_a_pod_bound_token_whose_node_has_no_uid_as_kubernetes_does()
    {
        // k8s pkg/serviceaccount/claims.go: on a Pod-bound token the node is informational, never looked up;
        // k8s.io/apiserver serviceaccount/util.go: node-uid is optional, set only with node-name.
        using var harness = ValidatorHarness.For(_issuer);

        var caller = await harness.AssertAcceptedAsync(Token(new JsonObject
        {
            ["pod"] = Reference("my-app-7d9f8b6c5-x2x9q", "pod-uid"),
            ["node"] = Reference("node-1", null),
        }));

        Assert.Equal("my-app-7d9f8b6c5-x2x9q", caller.PodName);
        Assert.Equal("node-1", caller.NodeName);
        Assert.Null(caller.NodeUid);
    }

    [Fact]
    public async Task Accepts_a_pod_bound_token_whose_node_has_no_name_exposing_no_node()
    {
        using var harness = ValidatorHarness.For(_issuer);

        var caller = await harness.AssertAcceptedAsync(Token(new JsonObject
        {
            ["pod"] = Reference("my-app-7d9f8b6c5-x2x9q", "pod-uid"),
            ["node"] = Reference(null, "node-uid"),
        }));

        Assert.Null(caller.NodeName);
        Assert.Null(caller.NodeUid);
    }

    [Fact]
    public async Task Accepts_real_world_pod_and_node_names()
    {
        using var harness = ValidatorHarness.For(_issuer);

        var caller = await harness.AssertAcceptedAsync(_issuer.CreateToken("my-namespace", "my-service-account")
            .WithPod("my-app-7d9f8b6c5-x2x9q").WithNode("ip-10-0-12-34.eu-west-1.compute.internal").Build());

        Assert.Equal("my-app-7d9f8b6c5-x2x9q", caller.PodName);
        Assert.NotNull(caller.PodUid);
        Assert.NotNull(caller.NodeUid);
    }

    // ---- warnafter ----

    [Fact]
    public async Task Ignores_a_warnafter_of_zero_as_the_api_server_does()
    {
        using var harness = ValidatorHarness.For(_issuer);

        var caller = await harness.AssertAcceptedAsync(Token(new JsonObject { ["warnafter"] = 0 }));

        Assert.Null(caller.WarnAfter);
    }

    [Fact]
    public async Task Still_enforces_a_warnafter_of_one_second_after_the_epoch()
    {
        using var harness = ValidatorHarness.For(_issuer);

        await harness.AssertRefusedAsync(Token(new JsonObject { ["warnafter"] = 1 }), KubernetesTokenFailureReason.Expired);
    }

    // ---- jti as Kubernetes' credential id ----

    [Fact]
    public async Task Exposes_the_jti_as_kubernetes_credential_id_on_the_typed_view_and_as_a_claim()
    {
        using var harness = ValidatorHarness.For(_issuer);

        var caller = await harness.AssertAcceptedAsync(_issuer.CreateToken("my-namespace", "caller").WithClaim("jti", "3f2a8c1e-7d9f-4b6c-9a1e-2c5d8f0b7a64").Build());
        var identity = new KubernetesClaimsIdentity(caller, "test");

        Assert.Equal("JTI=3f2a8c1e-7d9f-4b6c-9a1e-2c5d8f0b7a64", caller.CredentialId);
        Assert.Equal("JTI=3f2a8c1e-7d9f-4b6c-9a1e-2c5d8f0b7a64", identity.FindFirst(KubernetesClaimTypes.CredentialId)?.Value);
        Assert.Equal("3f2a8c1e-7d9f-4b6c-9a1e-2c5d8f0b7a64", identity.FindFirst(KubernetesClaimTypes.TokenId)?.Value);
        Assert.Equal("authentication.kubernetes.io/credential-id", KubernetesClaimTypes.CredentialId);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public async Task Has_no_credential_id_without_a_jti(string? jti)
    {
        using var harness = ValidatorHarness.For(_issuer);
        var builder = _issuer.CreateToken("my-namespace", "caller");
        var token = jti is null ? builder.WithoutClaim("jti").Build() : builder.WithClaim("jti", jti).Build();

        var caller = await harness.AssertAcceptedAsync(token);
        var principal = new ClaimsPrincipal(new KubernetesClaimsIdentity(caller, "test"));

        Assert.Null(caller.CredentialId);
        Assert.Null(principal.FindFirst(KubernetesClaimTypes.CredentialId));
    }

    /// <summary>A bound token of my-namespace/my-service-account whose <c>kubernetes.io</c> claim also holds <paramref name="extra"/>.</summary>
    private string Token(JsonObject extra)
    {
        var kubernetes = new JsonObject
        {
            ["namespace"] = "my-namespace",
            ["serviceaccount"] = Reference("my-service-account", "sa-uid"),
        };
        foreach (var (name, value) in extra)
        {
            kubernetes[name] = value?.DeepClone();
        }

        return _issuer.CreateToken("my-namespace", "my-service-account").WithClaim("kubernetes.io", kubernetes).Build();
    }

    private static JsonObject Reference(string? name, string? uid)
    {
        var reference = new JsonObject();
        if (name is not null)
        {
            reference["name"] = name;
        }

        if (uid is not null)
        {
            reference["uid"] = uid;
        }

        return reference;
    }
}
