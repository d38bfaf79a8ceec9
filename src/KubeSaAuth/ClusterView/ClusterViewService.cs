// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Schemes;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.ClusterView;

/// <summary>
/// Runs the list/watch loops of every cluster whose view is enabled, in the background, from host start to host
/// stop. Start waits (at most <c>BackchannelTimeout</c>) for each view's first LIST to succeed or fail, so that a
/// healthy cluster serves label policies from the first request; an unreachable or refusing API server never
/// keeps the host from starting.
/// </summary>
internal sealed class ClusterViewService(
    IAuthenticationSchemeProvider schemes,
    IOptionsMonitor<KubernetesServiceAccountOptions> optionsMonitor,
    SchemeRuntimeFactory runtimes) : IHostedService
{
    private readonly List<KubernetesClusterView> _views = [];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var waits = new List<Task>();
        foreach (var scheme in await schemes.GetAllSchemesAsync().ConfigureAwait(false))
        {
            if (scheme.HandlerType != typeof(KubernetesServiceAccountHandler))
            {
                continue;
            }

            var options = optionsMonitor.Get(scheme.Name);
            if (!options.ClusterView.Enabled && options.Clusters.Count == 0)
            {
                continue;
            }

            // Every cluster of the scheme with its view on (Clusters: each has its own).
            foreach (var cluster in runtimes.GetOrCreate(scheme.Name, options).Clusters)
            {
                if (cluster.View is not { } view)
                {
                    continue;
                }

                view.Start();
                _views.Add(view);
                waits.Add(view.FirstAttempt.WaitAsync(cluster.Options.BackchannelTimeout, options.TimeProvider ?? TimeProvider.System, cancellationToken));
            }
        }

        try
        {
            await Task.WhenAll(waits).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Starting anyway: the loops go on in the background and the health check tells.
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(_views.Select(v => v.StopAsync())).WaitAsync(cancellationToken).ConfigureAwait(false);
    }
}
