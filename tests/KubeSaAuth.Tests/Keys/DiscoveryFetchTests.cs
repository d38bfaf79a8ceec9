// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Schemes;
using KubeSaAuth.Tokens;
using KubeSaAuth.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Tests.Keys;

/// <summary>
/// When discovery is fetched, as README.md and docs/configuration.md say it: not when <c>Issuer</c> and
/// <c>JwksUri</c> are set and <c>MetadataAddress</c> is not; always when <c>MetadataAddress</c> is set.
/// </summary>
public sealed class DiscoveryFetchTests
{
    [Fact]
    public async Task Issuer_and_JwksUri_without_MetadataAddress_fetch_no_discovery()
    {
        await using var issuer = await KubernetesTestIssuer.StartAsync();

        var failure = await ValidateAsync(issuer, o => o.JwksUri = issuer.JwksUri);

        Assert.Null(failure);
        Assert.Equal(0, issuer.DiscoveryRequests);
        Assert.Equal(1, issuer.JwksRequests);
    }

    [Fact]
    public async Task A_MetadataAddress_beside_JwksUri_is_fetched()
    {
        await using var issuer = await KubernetesTestIssuer.StartAsync();

        var failure = await ValidateAsync(issuer, o =>
        {
            o.JwksUri = issuer.JwksUri;
            o.MetadataAddress = issuer.MetadataAddress;
        });

        Assert.Null(failure);
        Assert.Equal(1, issuer.DiscoveryRequests);
        Assert.Equal(1, issuer.JwksRequests);
    }

    private static async Task<TokenFailure?> ValidateAsync(KubernetesTestIssuer issuer, Action<KubernetesServiceAccountOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLogging();
        services.AddAuthentication().AddKubernetesServiceAccount(o =>
        {
            o.Issuer = issuer.Issuer;
            o.RequireHttpsMetadata = false;
            o.Audiences.Add("my-api");
            configure(o);
        });
        await using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(KubernetesServiceAccountDefaults.AuthenticationScheme);
        var runtime = provider.GetRequiredService<SchemeRuntimeFactory>().GetOrCreate(KubernetesServiceAccountDefaults.AuthenticationScheme, options);
        var outcome = await runtime.Validator.ValidateAsync(issuer.CreateToken("team-a", "worker").Build(), CancellationToken.None);
        return outcome.Failure;
    }
}
