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
            if (!options.WarmUpOnStartup)
            {
                continue;
            }

            var keys = runtimes.GetOrCreate(scheme.Name, options).Keys;
            try
            {
                var ok = await keys.FetchNowAsync(cancellationToken).WaitAsync(options.BackchannelTimeout + TimeSpan.FromSeconds(1), options.TimeProvider ?? TimeProvider.System, cancellationToken).ConfigureAwait(false);
                Log.KeysWarmUp(logger, scheme.Name, ok ? $"{keys.Current!.Keys.Count} keys fetched" : "the fetch failed; starting anyway, retrying in the background");
            }
            catch (TimeoutException)
            {
                Log.KeysWarmUp(logger, scheme.Name, "no answer in time; starting anyway, the fetch goes on");
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
