// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Net.Http.Headers;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Tests.Keys;

/// <summary>
/// Issue 12 §1: the key source is an IdentityModel <see cref="IConfigurationManager{T}"/>, and the
/// <c>ConfigurationManager</c> option takes any implementation — IdentityModel's
/// <see cref="StaticConfigurationManager{T}"/> (no network) and its <see cref="ConfigurationManager{T}"/>
/// against WireMock playing the API server.
/// </summary>
public sealed class ConfigurationManagerTests
{
    private static readonly TimeSpan RefreshInterval = new KubernetesServiceAccountOptions().RefreshInterval;

    [Fact]
    public async Task StaticConfigurationManager_keys_verify_tokens_its_issuer_is_learned_and_nothing_is_fetched()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        var configuration = new OpenIdConnectConfiguration { Issuer = api.Issuer.Issuer };
        configuration.SigningKeys.Add(new JsonWebKey(api.Issuer.ActiveKey.PublicJwk.ToJsonString()));
        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            // No Issuer: the configuration's is the one tokens must name.
            o.Audiences.Add("my-api");
            o.ConfigurationManager = new StaticConfigurationManager<OpenIdConnectConfiguration>(configuration);
        });

        var accepted = await host.SendAsync(api.Issuer.CreateToken("team-a").Build());
        var unknownKey = await host.SendAsync(api.Issuer.CreateToken().SignedWithUnknownKey().Build());
        var otherIssuer = await host.SendAsync(api.Issuer.CreateToken().WithIssuer("https://elsewhere.example").Build());

        Assert.Equal(HttpStatusCode.OK, accepted.Status);
        Assert.Equal(KubernetesTokenFailureReason.UnknownKey, unknownKey.Reason);
        Assert.Equal(KubernetesTokenFailureReason.InvalidIssuer, otherIssuer.Reason);
        Assert.Equal(0, api.TotalRequests);
    }

    [Fact]
    public async Task IdentityModel_ConfigurationManager_fetches_discovery_and_JWKS_from_the_API_server()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        using var client = JwksAcceptingClient();
        var manager = IdentityModelManager(api, client);
        await using var host = await StartWithManagerAsync(time, api, manager);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => host.SendAsync(api.Issuer.CreateToken($"ns-{i}").Build())));

        Assert.All(outcomes, o => Assert.Equal(HttpStatusCode.OK, o.Status));
        Assert.Equal(1, api.DiscoveryRequests);
        Assert.Equal(1, api.JwksRequests);
    }

    [Fact]
    public async Task With_IdentityModel_ConfigurationManager_a_rotated_key_is_refused_until_its_background_refresh_is_asked_again()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        using var client = JwksAcceptingClient();
        var manager = IdentityModelManager(api, client);
        await using var host = await StartWithManagerAsync(time, api, manager);
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(api.Issuer.CreateToken().Build())).Status);

        // The unknown kid makes the key source ask (RequestRefresh, then GetConfigurationAsync): IdentityModel
        // starts its refresh in the background and answers the configuration it has, so this token is refused —
        // what the option costs: no wait for a rotated key.
        var rotated = api.Issuer.RotateKey();
        var token = api.Issuer.CreateToken().Build();
        time.Advance(RefreshInterval);
        var atFirstSight = await host.SendAsync(token);
        await WaitUntilAsync(async () => (await manager.GetConfigurationAsync(CancellationToken.None)).SigningKeys.Any(k => k.KeyId == rotated.KeyId));

        // The next ask, a RefreshInterval later, gets the configuration IdentityModel fetched meanwhile.
        var tooSoon = await host.SendAsync(token);
        time.Advance(RefreshInterval);
        var later = await host.SendAsync(token);

        Assert.Equal(KubernetesTokenFailureReason.UnknownKey, atFirstSight.Reason);
        Assert.Equal(KubernetesTokenFailureReason.UnknownKey, tooSoon.Reason);
        Assert.Equal(HttpStatusCode.OK, later.Status);
        Assert.Equal(2, api.JwksRequests);
    }

    [Fact]
    public async Task The_default_key_source_is_an_IdentityModel_configuration_manager_with_the_handlers_schedule()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(api.Issuer.CreateToken().Build())).Status);
        IConfigurationManager<OpenIdConnectConfiguration> manager = host.Keys;

        var configuration = await manager.GetConfigurationAsync(CancellationToken.None);
        manager.RequestRefresh(); // within RefreshInterval of the last fetch: nothing
        await host.Keys.InflightFetch;
        var requestsBefore = api.TotalRequests;
        time.Advance(RefreshInterval);
        manager.RequestRefresh();
        await host.Keys.InflightFetch;

        Assert.Equal(api.Issuer.Issuer, configuration.Issuer);
        Assert.Equal([api.Issuer.ActiveKey.KeyId], configuration.SigningKeys.Select(k => k.KeyId));
        Assert.Same(configuration, await manager.GetConfigurationAsync(CancellationToken.None));
        Assert.Equal(2, requestsBefore);
        Assert.Equal(4, api.TotalRequests);
    }

    public static TheoryData<string, Action<KubernetesServiceAccountOptions>, string> InvalidOptions => new()
    {
        { "with JwksPath", o => o.JwksPath = "/keys/jwks.json", "The 'ConfigurationManager' and 'JwksPath' options exclude each other" },
        { "in-cluster", o => o.InCluster = true, "The 'ConfigurationManager' and 'InCluster' options exclude each other" },
        { "with a discovery address", o => o.MetadataAddress = "https://k8s.example/.well-known/openid-configuration", "would never be used" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void ConfigurationManager_with_options_it_makes_useless_is_refused_saying_what_to_do(string name, Action<KubernetesServiceAccountOptions> change, string message)
    {
        var options = new KubernetesServiceAccountOptions
        {
            Issuer = "https://kubernetes.default.svc.cluster.local",
            ConfigurationManager = new StaticConfigurationManager<OpenIdConnectConfiguration>(new OpenIdConnectConfiguration()),
        };
        options.Audiences.Add("my-api");
        change(options);

        var error = Assert.Throws<InvalidOperationException>(options.Validate);

        Assert.True(error.Message.Contains(message, StringComparison.Ordinal), $"{name}: {error.Message}");
    }

    /// <summary>Waits for IdentityModel's background refresh (on its own thread and clock) to have happened.</summary>
    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "IdentityModel's background refresh did not happen within 30 s.");
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// IdentityModel's document retriever sends no <c>Accept</c>; the stand-in API server, stricter than the
    /// real router (which takes a missing <c>Accept</c> as any), wants the JWKS media type named.
    /// </summary>
    /// <summary>IdentityModel's own <c>ConfigurationManager</c> against <paramref name="api"/>, over plain HTTP.</summary>
    private static ConfigurationManager<OpenIdConnectConfiguration> IdentityModelManager(FakeApiServer api, HttpClient client) =>
        new(api.MetadataAddress, new OpenIdConnectConfigurationRetriever(), new HttpDocumentRetriever(client) { RequireHttps = false });

    /// <summary>A host whose scheme gets its keys from <paramref name="manager"/>, for <paramref name="api"/>'s issuer.</summary>
    private static Task<KeysTestHost> StartWithManagerAsync(Microsoft.Extensions.Time.Testing.FakeTimeProvider time, FakeApiServer api, IConfigurationManager<OpenIdConnectConfiguration> manager) =>
        KeysTestHost.StartAsync(time, o =>
        {
            o.Issuer = api.Issuer.Issuer;
            o.Audiences.Add("my-api");
            o.ConfigurationManager = manager;
        });

    private static HttpClient JwksAcceptingClient()
    {
        var client = new HttpClient();
        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/jwk-set+json"));
        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return client;
    }
}
