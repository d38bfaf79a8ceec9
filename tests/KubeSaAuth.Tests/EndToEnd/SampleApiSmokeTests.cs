// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Net.Http.Headers;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace KubeSaAuth.Tests.EndToEnd;

public sealed class SampleApiSmokeTests
{
    [Fact]
    public async Task Whoami_accepts_a_bound_token_and_reports_the_caller()
    {
        var issuer = new KubernetesTestIssuer();
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
            b.ConfigureServices(s => s.PostConfigure<KubernetesServiceAccountOptions>(KubernetesServiceAccountDefaults.AuthenticationScheme, o => issuer.Configure(o, inProcess: true))));
        var client = factory.CreateClient();
        var token = issuer.CreateToken("my-namespace", "my-service-account").WithPod("p1").WithNode("n1").Build();

        using var request = new HttpRequestMessage(HttpMethod.Get, "/whoami");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"podName\":\"p1\"", body);
    }
}
