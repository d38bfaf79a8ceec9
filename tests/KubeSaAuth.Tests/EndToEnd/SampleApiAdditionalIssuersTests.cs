// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.EndToEnd;

/// <summary>
/// Issuer migration (<c>--service-account-issuer</c> given twice) on the sample API, configured as a
/// deployment would be: the sample runs in its own process on Kestrel (127.0.0.1:0), every setting from
/// environment variables (<c>Authentication__Schemes__KubernetesServiceAccount__AdditionalIssuers__0</c>),
/// WireMock.Net playing the API server.
/// </summary>
public sealed class SampleApiAdditionalIssuersTests
{
    private const string Prefix = "Authentication__Schemes__KubernetesServiceAccount__";
    private const string OldIssuer = "https://old-issuer.example";

    [Fact]
    public async Task Sample_accepts_a_token_of_an_additional_issuer_bound_from_environment_variables()
    {
        using var apiServer = FakeApiServer.ForSampleApi();
        var environment = new Dictionary<string, string>
        {
            [Prefix + "Issuer"] = apiServer.Issuer.Issuer,
            [Prefix + "MetadataAddress"] = apiServer.MetadataAddress,
            [Prefix + "JwksUri"] = apiServer.JwksUri,
            [Prefix + "RequireHttpsMetadata"] = "false",
            [Prefix + "AdditionalIssuers__0"] = OldIssuer,
        };
        await using var sample = await SampleProcess.StartAsync(environment);

        using var old = await sample.GetAsync("/whoami", apiServer.Issuer.CreateToken("my-namespace", "my-service-account").WithIssuer(OldIssuer).Build());
        using var current = await sample.GetAsync("/whoami", apiServer.Issuer.CreateToken("my-namespace", "my-service-account").Build());
        using var stranger = await sample.GetAsync("/whoami", apiServer.Issuer.CreateToken("my-namespace", "my-service-account").WithIssuer("https://stranger.example").Build());

        Assert.Equal(HttpStatusCode.OK, old.StatusCode);
        Assert.Contains($"\"issuer\":\"{OldIssuer}\"", await old.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, current.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, stranger.StatusCode);
        // The caller learns its own issuer is not accepted, never which ones are (issue 20: those are in the log).
        var challenge = Assert.Single(stranger.Headers.WwwAuthenticate).Parameter;
        Assert.Contains("'https://stranger.example' is not accepted here", challenge, StringComparison.Ordinal);
        Assert.DoesNotContain(OldIssuer, challenge, StringComparison.Ordinal);
    }
}
