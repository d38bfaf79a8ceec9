// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Backchannel;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.InCluster;

/// <summary>
/// Fails the host's start with a clear message when a scheme in in-cluster mode (or with TokenReview) has
/// no service-account directory — instead of refusing every request later. A hosted service, not an
/// options validator: reading the options (tools, tests, a laptop) must keep working outside a Pod.
/// </summary>
internal sealed class InClusterStartupCheck(IAuthenticationSchemeProvider schemes, IOptionsMonitor<KubernetesServiceAccountOptions> options)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var scheme in await schemes.GetAllSchemesAsync().ConfigureAwait(false))
        {
            if (scheme.HandlerType != typeof(KubernetesServiceAccountHandler))
            {
                continue;
            }

            var error = GetError(scheme.Name, options.Get(scheme.Name));
            if (error is not null)
            {
                throw new InvalidOperationException(error);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    internal static string? GetError(string scheme, KubernetesServiceAccountOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.ServiceAccountDirectory))
        {
            return null;
        }

        var problem = BackchannelFiles.Check(options, options.TokenReview.Enabled);
        return problem is null ? null : $"Authentication scheme '{scheme}': {problem}";
    }
}
