// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

// <doc>
using System.Net;
using KubeSaAuth.Testing;                 // package KubeSaAuth.Testing
using Microsoft.AspNetCore.Mvc.Testing;   // WebApplicationFactory: comes with KubeSaAuth.Testing
// </doc>

namespace KubeSaAuth.Tests.TestKit;

// The example of docs/testing.md, verbatim between the doc markers (Docs/DocSnippetTests checks it).
// <doc>
public sealed class ReportsTests
{
    [Fact]
    public async Task Reports_accepts_a_caller_from_my_namespace()
    {
        await using var factory = new WebApplicationFactory<Program>().WithKubernetesTestIssuer(out var issuer);
        using var client = factory.CreateClientWithToken(issuer, "my-namespace", "reporter");

        using var response = await client.GetAsync(new Uri("/reports", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
// </doc>
