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

    [Fact]
    public async Task A_refusal_of_an_unreadable_token_names_no_empty_fields()
    {
        await using var factory = new WebApplicationFactory<Program>()
            .WithKubernetesTestIssuer(out _)
            .WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddFakeLogging()));
        using var client = factory.CreateClientWithToken("not-a-token");

        using var response = await client.GetAsync(new Uri("/whoami", UriKind.Relative));

        var record = Assert.Single(factory.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "TokenRefused");
        Assert.StartsWith("Refused a service-account token (Malformed): ", record.Message, StringComparison.Ordinal);
        Assert.EndsWith("[scheme KubernetesServiceAccount].", record.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("(none)", record.Message, StringComparison.Ordinal);
        Assert.Null(record.GetStructuredStateValue("KeyId"));
        Assert.Null(record.GetStructuredStateValue("Namespace"));
    }

    [Fact]
    public async Task A_refusal_lists_only_the_fields_the_token_had()
    {
        await using var factory = new WebApplicationFactory<Program>()
            .WithKubernetesTestIssuer(out var issuer)
            .WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddFakeLogging()));
        using var client = factory.CreateClientWithToken(issuer.CreateToken("team-a", "worker").Legacy().Build());

        using var response = await client.GetAsync(new Uri("/whoami", UriKind.Relative));

        var record = Assert.Single(factory.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "TokenRefused");
        Assert.Contains($"[scheme KubernetesServiceAccount, caller team-a/worker, kid {issuer.ActiveKey.KeyId}, issuer kubernetes/serviceaccount].", record.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(", audience", record.Message, StringComparison.Ordinal);
        Assert.Null(record.GetStructuredStateValue("Audience"));
        Assert.DoesNotContain(" ,", record.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(" ]", record.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_403_names_the_policy_and_the_caller_at_Information()
    {
        await using var factory = new WebApplicationFactory<Program>()
            .WithKubernetesTestIssuer(out var issuer)
            .WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddFakeLogging()));
        using var client = factory.CreateClientWithToken(issuer, "other-namespace", "reporter");

        using var response = await client.GetAsync(new Uri("/reports", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var record = Assert.Single(factory.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "ForbiddenResponse");
        Assert.Equal(LogLevel.Information, record.Level);
        Assert.Equal("'namespace:my-namespace'", record.GetStructuredStateValue("Policy"));
        Assert.Equal("other-namespace", record.GetStructuredStateValue("Namespace"));
        Assert.Equal("reporter", record.GetStructuredStateValue("ServiceAccount"));
        Assert.Contains("other-namespace/reporter", record.Message, StringComparison.Ordinal);
        Assert.Contains("'namespace:my-namespace'", record.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_403_on_a_minimal_api_names_its_policy()
    {
        await using var factory = new WebApplicationFactory<Program>()
            .WithKubernetesTestIssuer(out var issuer)
            .WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddFakeLogging()));
        using var client = factory.CreateClientWithToken(issuer, "my-namespace", "reporter");

        using var response = await client.GetAsync(new Uri("/admin", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var record = Assert.Single(factory.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "ForbiddenResponse");
        Assert.Equal("'serviceaccount:my-namespace:my-service-account'", record.GetStructuredStateValue("Policy"));
        Assert.Contains("my-namespace/reporter", record.Message, StringComparison.Ordinal);
    }
}
