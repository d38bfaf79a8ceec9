// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace KubeSaAuth.Tests.Diagnostics;

/// <summary>"Why was this token refused" from the logs: the refusal's structured fields, never the token.</summary>
public sealed class RefusalLogTests
{
    [Fact]
    public async Task Logs_a_refusal_with_namespace_service_account_kid_issuer_and_audience()
    {
        await using var factory = new WebApplicationFactory<Program>()
            .WithKubernetesTestIssuer(out var issuer)
            .WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddFakeLogging()));
        var token = issuer.CreateToken("team-a", "worker").WithAudience("someone-else").Build();
        using var client = factory.CreateClientWithToken(token);

        using var response = await client.GetAsync(new Uri("/whoami", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var record = Assert.Single(factory.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "TokenRefused");
        var state = record.StructuredState!.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(nameof(KubernetesTokenFailureReason.InvalidAudience), state["Reason"]);
        Assert.Equal("team-a", state["Namespace"]);
        Assert.Equal("worker", state["ServiceAccount"]);
        Assert.Equal(issuer.ActiveKey.KeyId, state["KeyId"]);
        Assert.Equal(issuer.Issuer, state["Issuer"]);
        Assert.Equal("someone-else", state["Audience"]);
        Assert.DoesNotContain(token.Split('.')[2], record.Message, StringComparison.Ordinal);
        Assert.Equal(LogLevel.Information, record.Level);
    }

    [Fact]
    public async Task Logs_the_audience_of_a_token_refused_for_its_signature()
    {
        await using var factory = new WebApplicationFactory<Program>()
            .WithKubernetesTestIssuer(out var issuer)
            .WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddFakeLogging()));
        using var client = factory.CreateClientWithToken(issuer.CreateToken("team-a", "worker").Tampered().Build());

        using var response = await client.GetAsync(new Uri("/whoami", UriKind.Relative));

        var record = Assert.Single(factory.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "TokenRefused");
        var state = record.StructuredState!.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(nameof(KubernetesTokenFailureReason.InvalidSignature), state["Reason"]);
        Assert.Equal("my-api", state["Audience"]);
        Assert.Equal("kube-system", state["Namespace"]);
    }
}
