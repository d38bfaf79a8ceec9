// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Schemes;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.ClusterView;

/// <summary>
/// The health of a cluster's view: Healthy when every resource is listed and watched; Degraded while a watch is
/// down (decisions continue with the view in hand, revocations are not seen), while listing, or when RBAC refuses
/// a verb (named: <c>list pods</c>); the failure status when it is refused everything. For readiness, never liveness.
/// </summary>
internal sealed class KubernetesClusterViewHealthCheck(IOptionsMonitor<KubernetesServiceAccountOptions> optionsMonitor, SchemeRuntimeFactory runtimes, string scheme) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        SchemeRuntime runtime;
        try
        {
            runtime = runtimes.GetOrCreate(scheme, optionsMonitor.Get(scheme));
        }
        catch (InvalidOperationException ex)
        {
            return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus, $"Scheme '{scheme}' is misconfigured: {ex.Message}"));
        }

        if (runtime.View is not { } view)
        {
            return Task.FromResult(HealthCheckResult.Healthy($"The cluster view of scheme '{scheme}' is not enabled (ClusterView:Enabled)."));
        }

        var data = new Dictionary<string, object>
        {
            ["scheme"] = scheme,
            ["apiServer"] = view.Client.ApiServer.ToString(),
            ["pods"] = view.Pods.Count,
            ["serviceAccounts"] = view.ServiceAccounts.Count,
            ["lookups"] = view.Lookup.Lookups,
        };
        if (view.Namespaces is { } namespaces)
        {
            data["namespaces"] = namespaces.Count;
        }

        var forbidden = view.Reflectors.Where(r => r.Forbidden is not null).Select(r => r.Forbidden!).ToList();
        var down = view.Reflectors.Where(r => r.Forbidden is null && r.Error is not null).Select(r => $"{r.Description}: {r.Error}").ToList();
        var listing = view.Reflectors.Where(r => !r.IsSynced && r.Forbidden is null && r.Error is null).Select(r => r.Description).ToList();
        if (forbidden.Count > 0)
        {
            data["forbidden"] = string.Join("; ", forbidden);
            var message = $"The cluster view of scheme '{scheme}' is refused by RBAC: may not {string.Join(", ", forbidden)}. Grant them (samples/k8s/rbac-cluster-view.yaml); label policies refuse meanwhile.";
            return Task.FromResult(forbidden.Count == view.Reflectors.Count
                ? new HealthCheckResult(context.Registration.FailureStatus, message, data: data)
                : HealthCheckResult.Degraded(message, data: data));
        }

        if (down.Count > 0)
        {
            data["errors"] = string.Join("; ", down);
            return Task.FromResult(HealthCheckResult.Degraded($"The cluster view of scheme '{scheme}' is disconnected ({string.Join("; ", down)}); deciding with the view in hand, revocations unseen until it reconnects.", data: data));
        }

        if (listing.Count > 0)
        {
            return Task.FromResult(HealthCheckResult.Degraded($"The cluster view of scheme '{scheme}' is still listing {string.Join(", ", listing)}.", data: data));
        }

        return Task.FromResult(HealthCheckResult.Healthy($"The cluster view of scheme '{scheme}' is complete and watching ({view.Pods.Count} pods, {view.ServiceAccounts.Count} service accounts).", data));
    }
}
