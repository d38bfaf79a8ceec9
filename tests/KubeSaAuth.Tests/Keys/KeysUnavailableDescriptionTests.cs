// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.Keys;

/// <summary>
/// While the keys cannot be fetched, the unauthenticated caller learns that and to retry; the fetch
/// error (internal addresses, status codes) stays in the logs.
/// </summary>
public sealed class KeysUnavailableDescriptionTests
{
    [Theory]
    [InlineData(IssuerFault.ServiceUnavailable)]
    [InlineData(IssuerFault.InvalidJson)]
    public async Task Tells_the_caller_to_retry_without_the_fetch_error_and_logs_the_error(IssuerFault fault)
    {
        var issuer = new KubernetesTestIssuer();
        using var outage = issuer.SimulateOutage(fault);
        await using var host = await HardeningHost.StartAsync(issuer);

        using var response = await host.GetAsync("/", issuer.CreateToken("my-namespace", "caller").Build());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.Contains("signing keys are not available yet; retry shortly", challenge, StringComparison.Ordinal);
        Assert.DoesNotContain(issuer.BaseAddress.Host, challenge, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("503", challenge, StringComparison.Ordinal);
        Assert.DoesNotContain("error:", challenge, StringComparison.Ordinal);
        Assert.Contains(host.Logs.GetSnapshot(), r => r.Id.Name == "KeyFetchFailed" && r.Message.Contains(issuer.BaseAddress.Host, StringComparison.OrdinalIgnoreCase));
    }
}
