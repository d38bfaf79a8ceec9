// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Diagnostics;
using KubeSaAuth.Schemes;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Keys;

/// <summary>
/// Fetches the keys of schemes with <c>WarmUpOnStartup</c> while the host starts. The host starts whether
/// or not the issuer answers (bounded by <c>BackchannelTimeout</c>); failed fetches then retry with back-off.
/// </summary>
internal sealed class KeyWarmUpService(
    IAuthenticationSchemeProvider schemes,
    IOptionsMonitor<KubernetesServiceAccountOptions> optionsMonitor,
    SchemeRuntimeFactory runtimes,
    ILogger<KeyWarmUpService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var scheme in await schemes.GetAllSchemesAsync().ConfigureAwait(false))
        {
            if (scheme.HandlerType != typeof(KubernetesServiceAccountHandler))
            {
                continue;
            }

            var options = optionsMonitor.Get(scheme.Name);
            if (!options.WarmUpOnStartup && options.Clusters.Count == 0)
            {
                continue;
            }

            var runtime = runtimes.GetOrCreate(scheme.Name, options);

            // Every cluster at once: one that does not answer costs its own BackchannelTimeout, not the others'.
            await Task.WhenAll(runtime.Clusters
                .Where(c => c.Options.WarmUpOnStartup)
                .Select(c => WarmUpAsync(runtime.Clusters.Length == 1 ? scheme.Name : $"{scheme.Name}/{c.Name}", c.Keys, c.Options, cancellationToken))).ConfigureAwait(false);
        }
    }

    private async Task WarmUpAsync(string name, SigningKeySource keys, KubernetesServiceAccountOptions options, CancellationToken cancellationToken)
    {
        try
        {
            var ok = await keys.FetchNowAsync(cancellationToken).WaitAsync(options.BackchannelTimeout + TimeSpan.FromSeconds(1), options.TimeProvider ?? TimeProvider.System, cancellationToken).ConfigureAwait(false);
            Log.KeysWarmUp(logger, name, ok ? $"{keys.Current!.Keys.Count} keys fetched" : "the fetch failed; starting anyway, retrying in the background");
        }
        catch (TimeoutException)
        {
            Log.KeysWarmUp(logger, name, "no answer in time; starting anyway, the fetch goes on");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
