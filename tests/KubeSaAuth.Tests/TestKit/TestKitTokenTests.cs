// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.TestKit;

/// <summary>The tokens the kit mints pass the real handler; its presets fail for the reason they name.</summary>
public sealed class TestKitTokenTests
{
    [Fact]
    public async Task Accepts_a_bound_token_the_kit_mints()
    {
        await using var host = new TestKitHost(new KubernetesTestIssuer());
        var token = host.Issuer.CreateToken("team-a", "worker").WithPod("worker-7d9f", "pod-uid").WithNode("node-1").Build();

        using var response = await host.GetAsync("/whoami", token);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"namespace\":\"team-a\"", body, StringComparison.Ordinal);
        Assert.Contains("\"podName\":\"worker-7d9f\"", body, StringComparison.Ordinal);
        Assert.Contains("\"nodeName\":\"node-1\"", body, StringComparison.Ordinal);
        Assert.Empty(host.Refusals);
    }

    [Fact]
    public async Task Accepts_a_token_of_an_issuer_served_on_loopback()
    {
        var issuer = await KubernetesTestIssuer.StartAsync();
        await using var host = new TestKitHost(issuer);

        using var response = await host.GetAsync("/whoami", issuer.CreateToken("team-a", "worker").Build());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(issuer.BaseAddress.IsLoopback);
        Assert.Equal(1, issuer.JwksRequests);
    }

    [Fact]
    public async Task Accepts_an_ES256_token_after_an_ECDSA_key_is_added()
    {
        await using var host = new TestKitHost(new KubernetesTestIssuer());
        host.Issuer.AddKey("ES256");

        using var response = await host.GetAsync("/whoami", host.Issuer.CreateToken("team-a", "worker").Build());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    public static TheoryData<string, KubernetesTokenFailureReason> Presets => new()
    {
        { "expired", KubernetesTokenFailureReason.Expired },
        { "not-yet-valid", KubernetesTokenFailureReason.NotYetValid },
        { "tampered", KubernetesTokenFailureReason.InvalidSignature },
        { "legacy", KubernetesTokenFailureReason.LegacyTokenRefused },
        { "wrong-audience", KubernetesTokenFailureReason.InvalidAudience },
        { "unknown-key", KubernetesTokenFailureReason.UnknownKey },
        { "extended-past-warnafter", KubernetesTokenFailureReason.Expired },
    };

    [Theory]
    [MemberData(nameof(Presets))]
    public async Task Refuses_a_preset_token_for_the_reason_it_stands_for(string preset, KubernetesTokenFailureReason expected)
    {
        await using var host = new TestKitHost(new KubernetesTestIssuer());
        var builder = host.Issuer.CreateToken("team-a", "worker");
        var token = preset switch
        {
            "expired" => builder.Expired(),
            "not-yet-valid" => builder.NotYetValid(),
            "tampered" => builder.Tampered(),
            "legacy" => builder.Legacy(),
            "wrong-audience" => builder.WithWrongAudience(),
            "unknown-key" => builder.SignedWithUnknownKey(),
            "extended-past-warnafter" => builder.IssuedAt(host.Issuer.TimeProvider.GetUtcNow().AddHours(-3)).Extended(),
            _ => throw new ArgumentOutOfRangeException(nameof(preset)),
        };

        using var response = await host.GetAsync("/whoami", token.Build());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal([expected], host.Refusals);
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Tampered_token_claims_another_identity_and_keeps_the_original_signature()
    {
        var issuer = new KubernetesTestIssuer();
        var genuine = issuer.CreateToken("team-a", "worker").IssuedAt(DateTimeOffset.UnixEpoch.AddYears(56)).WithServiceAccountUid("u1");
        var token = genuine.Build();
        var tampered = genuine.Tampered().Build();

        var payload = System.Text.Encoding.UTF8.GetString(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.DecodeBytes(tampered.Split('.')[1]));

        Assert.Contains("\"sub\":\"system:serviceaccount:kube-system:admin\"", payload, StringComparison.Ordinal);
        Assert.Contains("\"namespace\":\"kube-system\"", payload, StringComparison.Ordinal);
        Assert.NotEqual(token.Split('.')[1], tampered.Split('.')[1]);
    }

    [Fact]
    public async Task Accepts_a_legacy_token_when_the_application_enables_them()
    {
        await using var host = new TestKitHost(new KubernetesTestIssuer(), o => o.AcceptLegacyTokens = true);

        using var response = await host.GetAsync("/whoami", host.Issuer.CreateToken("team-a", "worker").Legacy().Build());
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"legacy\":true", body, StringComparison.Ordinal);
    }
}
