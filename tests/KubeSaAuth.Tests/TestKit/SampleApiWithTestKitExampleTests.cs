// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace KubeSaAuth.Tests.TestKit;

/// <summary>
/// How a user tests their own API with the kit: one line to make the app trust a stand-in cluster, one
/// line per caller. The first example of docs/testing.md is ReportsTests.cs beside this file.
/// </summary>
public sealed class SampleApiWithTestKitExampleTests
{
    [Fact]
    public async Task Reports_forbids_a_caller_from_another_namespace()
    {
        await using var factory = new WebApplicationFactory<Program>().WithKubernetesTestIssuer(out var issuer);
        using var client = factory.CreateClientWithToken(issuer, "other-namespace", "reporter");

        using var response = await client.GetAsync(new Uri("/reports", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Admin_accepts_only_the_named_service_account()
    {
        await using var factory = new WebApplicationFactory<Program>().WithKubernetesTestIssuer(out var issuer);
        using var admin = factory.CreateClientWithToken(issuer, "my-namespace", "my-service-account");
        using var other = factory.CreateClientWithToken(issuer, "my-namespace", "reporter");

        using var allowed = await admin.GetAsync(new Uri("/admin", UriKind.Relative));
        using var denied = await other.GetAsync(new Uri("/admin", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
    }

    [Fact]
    public async Task An_expired_token_gets_401_with_the_reason_in_the_challenge()
    {
        await using var factory = new WebApplicationFactory<Program>().WithKubernetesTestIssuer(out var issuer);
        using var client = factory.CreateClientWithToken(issuer.CreateToken("my-namespace", "reporter").Expired().Build());

        using var response = await client.GetAsync(new Uri("/reports", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("error_description=\"the token expired at", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tokens_follow_the_audience_the_application_configured()
    {
        await using var factory = new WebApplicationFactory<Program>()
            .WithWebHostBuilder(b => b.UseSetting("Authentication:Schemes:KubernetesServiceAccount:Audiences:0", "reports-api"))
            .WithKubernetesTestIssuer(out var issuer);
        using var client = factory.CreateClientWithToken(issuer, "my-namespace", "reporter");
        using var wrong = factory.CreateClientWithToken(issuer.CreateToken("my-namespace", "reporter").WithAudience("my-api").Build());

        using var response = await client.GetAsync(new Uri("/reports", UriKind.Relative));
        using var refused = await wrong.GetAsync(new Uri("/reports", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(["reports-api"], issuer.DefaultAudiences);
    }

    [Fact]
    public async Task A_token_built_before_the_host_starts_carries_the_issuer_defaults_as_testing_md_says()
    {
        await using var factory = new WebApplicationFactory<Program>()
            .WithWebHostBuilder(b => b.UseSetting("Authentication:Schemes:KubernetesServiceAccount:Audiences:0", "reports-api"))
            .WithKubernetesTestIssuer(out var issuer);
        var early = issuer.CreateToken("my-namespace", "reporter").Build();   // the host has not started: audience my-api
        using var client = factory.CreateClient();                              // starts the host: the issuer adopts reports-api
        var late = issuer.CreateToken("my-namespace", "reporter").Build();

        using var earlyClient = factory.CreateClientWithToken(early);
        using var lateClient = factory.CreateClientWithToken(late);

        using var earlyResponse = await earlyClient.GetAsync(new Uri("/reports", UriKind.Relative));
        using var lateResponse = await lateClient.GetAsync(new Uri("/reports", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, earlyResponse.StatusCode);
        Assert.Contains("the token's audience 'my-api' is not accepted here", earlyResponse.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, lateResponse.StatusCode);
    }

    [Fact]
    public async Task Overrides_a_jwks_address_the_application_configured()
    {
        await using var factory = new WebApplicationFactory<Program>()
            .WithWebHostBuilder(b => b.UseSetting("Authentication:Schemes:KubernetesServiceAccount:JwksUri", "https://10.0.0.1:6443/openid/v1/jwks"))
            .WithKubernetesTestIssuer(out var issuer);
        using var client = factory.CreateClientWithToken(issuer, "my-namespace", "reporter");

        using var response = await client.GetAsync(new Uri("/reports", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, issuer.JwksRequests);
    }
}
