// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net.Http.Headers;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>
/// WireMock.Net playing the Kubernetes API server on loopback (port 0): discovery whose <c>jwks_uri</c>
/// names an unreachable address, as real clusters publish, and the JWKS as <c>application/jwk-set+json</c>
/// with 406 to an <c>Accept</c> that excludes it. Keys and tokens come from a <see cref="KubernetesTestIssuer"/>.
/// </summary>
internal sealed class SampleApiFakeApiServer : IDisposable
{
    public const string DiscoveryPath = "/.well-known/openid-configuration";
    public const string JwksPath = "/openid/v1/jwks";
    public const string UnreachableJwksUri = "https://10.255.255.1:6443/openid/v1/jwks";

    public SampleApiFakeApiServer()
    {
        Server = WireMockServer.Start();
        Issuer = new KubernetesTestIssuer(Server.Url!) { PublishedJwksUri = UnreachableJwksUri };
        Server.Given(Request.Create().WithPath(DiscoveryPath).UsingGet())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody(_ => Issuer.GetDiscoveryDocument()));
        Server.Given(Request.Create().WithPath(JwksPath).UsingGet().WithHeader("Accept", "*application/jwk-set+json*"))
            .AtPriority(1)
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/jwk-set+json").WithBody(_ => Issuer.GetJwks()));
        Server.Given(Request.Create().WithPath(JwksPath).UsingGet())
            .AtPriority(10)
            .RespondWith(Response.Create().WithStatusCode(406).WithHeader("Content-Type", "application/json").WithBody("{\"kind\":\"Status\",\"code\":406}"));
    }

    public WireMockServer Server { get; }

    public KubernetesTestIssuer Issuer { get; }

    public int Requests(string path) => Server.LogEntries.Count(e => e.RequestMessage.Path == path);

    /// <summary>The sample API configured only through configuration, against this server.</summary>
    public WebApplicationFactory<Program> CreateSampleApi(IDictionary<string, string?>? overrides = null, Action<KubernetesServiceAccountOptions>? postConfigure = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Authentication:Schemes:KubernetesServiceAccount:Issuer"] = Server.Url,
            ["Authentication:Schemes:KubernetesServiceAccount:MetadataAddress"] = Server.Url + DiscoveryPath,
            ["Authentication:Schemes:KubernetesServiceAccount:JwksUri"] = Server.Url + JwksPath,
            ["Authentication:Schemes:KubernetesServiceAccount:Audiences:0"] = "my-api",
            ["Authentication:Schemes:KubernetesServiceAccount:RequireHttpsMetadata"] = "false",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings["Authentication:Schemes:KubernetesServiceAccount:" + key] = value;
        }

        return new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.ConfigureAppConfiguration((_, c) => c.AddInMemoryCollection(settings));
            if (postConfigure is not null)
            {
                b.ConfigureServices(s => s.PostConfigure(KubernetesServiceAccountDefaults.AuthenticationScheme, postConfigure));
            }
        });
    }

    public static async Task<HttpResponseMessage> GetAsync(HttpClient client, string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await client.SendAsync(request);
    }

    public void Dispose() => Server.Stop();
}
