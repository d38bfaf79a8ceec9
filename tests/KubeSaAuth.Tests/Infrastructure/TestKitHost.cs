// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>The sample API trusting a test issuer, with every refusal reason recorded.</summary>
internal sealed class TestKitHost : IAsyncDisposable
{
    private readonly WebApplicationFactory<Program> _factory;

    public TestKitHost(KubernetesTestIssuer issuer, Action<KubernetesServiceAccountOptions>? configure = null)
    {
        Issuer = issuer;
        _factory = new WebApplicationFactory<Program>()
            .WithKubernetesTestIssuer(issuer)
            .WithWebHostBuilder(b => b.ConfigureTestServices(s => s.PostConfigure<KubernetesServiceAccountOptions>(KubernetesServiceAccountDefaults.AuthenticationScheme, o =>
            {
                o.TimeProvider = issuer.TimeProvider;
                o.Events.OnAuthenticationFailed = context =>
                {
                    Refusals.Enqueue(context.Exception.Reason);
                    return Task.CompletedTask;
                };
                configure?.Invoke(o);
            })));
    }

    public KubernetesTestIssuer Issuer { get; }

    public ConcurrentQueue<KubernetesTokenFailureReason> Refusals { get; } = new();

    public async Task<HttpResponseMessage> GetAsync(string path, string token)
    {
        using var client = _factory.CreateClientWithToken(token);
        return await client.GetAsync(new Uri(path, UriKind.Relative));
    }

    public async ValueTask DisposeAsync()
    {
        await _factory.DisposeAsync();
        await Issuer.DisposeAsync();
    }
}
