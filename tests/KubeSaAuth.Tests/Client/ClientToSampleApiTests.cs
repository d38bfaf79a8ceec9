// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.InCluster;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace KubeSaAuth.Tests.Client;

public sealed class ClientToSampleApiTests
{
    [Fact]
    public async Task A_refused_token_is_replaced_by_the_rotated_one_and_the_call_retried()
    {
        var issuer = new KubernetesTestIssuer();
        await using var api = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
            b.ConfigureServices(s => s.PostConfigure<KubernetesServiceAccountOptions>(KubernetesServiceAccountDefaults.AuthenticationScheme, o => issuer.Configure(o, inProcess: true))));

        // The file first holds a token for another audience (the API answers 401), then the right one.
        using var sa = new TestServiceAccountDirectory(issuer.CreateToken("my-namespace", "my-service-account").WithAudience("other-api").Build(), "unused");
        var services = new ServiceCollection();
        services.AddHttpClient("sample-api", c => c.BaseAddress = new Uri("http://sample-api.test"))
            .AddKubernetesServiceAccountToken(sa.TokenPath)
            .ConfigurePrimaryHttpMessageHandler(() => api.Server.CreateHandler());
        using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("sample-api");
        using var refused = await client.GetAsync(new Uri("/whoami", UriKind.Relative));

        sa.Rotate(token: issuer.CreateToken("my-namespace", "my-service-account").WithPod("caller-2").Build());
        using var retried = await client.GetAsync(new Uri("/whoami", UriKind.Relative));
        var body = await retried.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Contains("\"podName\":\"caller-2\"", body, StringComparison.Ordinal);
    }
}
