// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using KubeSaAuth.Schemes;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.ClusterView;

/// <summary>
/// The health of a scheme's cluster views, one per cluster: Healthy when every resource is listed and watched;
/// Degraded while a watch is down (since when; decisions continue with the view in hand, revocations are not seen),
/// while listing, or when RBAC refuses a verb (named: <c>list pods</c>); the failure status when it is refused
/// everything. A scheme of several clusters (<c>Clusters</c>) is reported cluster by cluster (data
/// <c>cluster:{name}</c>), with the worst status; a cluster whose view is off is named as such and counts as
/// healthy (nothing to be ready for). For readiness, never liveness.
/// </summary>
internal sealed class KubernetesClusterViewHealthCheck(IOptionsMonitor<KubernetesServiceAccountOptions> optionsMonitor, SchemeRuntimeFactory runtimes, string scheme) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        SchemeRuntime runtime;
        KubernetesServiceAccountOptions options;
        try
        {
            options = optionsMonitor.Get(scheme);
            runtime = runtimes.GetOrCreate(scheme, options);
        }
        catch (InvalidOperationException ex)
        {
            return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus, $"Scheme '{scheme}' is misconfigured: {ex.Message}"));
        }

        var failureStatus = context.Registration.FailureStatus;
        if (options.Clusters.Count == 0)
        {
            return Task.FromResult(runtime.View is { } view
                ? Check(view, $"The cluster view of scheme '{scheme}'", scheme, failureStatus)
                : HealthCheckResult.Healthy($"The cluster view of scheme '{scheme}' is not enabled (ClusterView:Enabled)."));
        }

        return Task.FromResult(CheckClusters(runtime, failureStatus));
    }

    /// <summary>Every cluster of a scheme with <c>Clusters</c>, as the keys health check does: each named, the worst status.</summary>
    private HealthCheckResult CheckClusters(SchemeRuntime runtime, HealthStatus failureStatus)
    {
        var data = new Dictionary<string, object> { ["scheme"] = scheme, ["clusters"] = runtime.Clusters.Length };
        var worst = HealthStatus.Healthy;
        var problems = new List<string>();
        var off = new List<string>();
        var watched = 0;
        foreach (var cluster in runtime.Clusters)
        {
            if (cluster.View is not { } view)
            {
                // Named, so that an operator who expected a view sees at once that its option is off.
                off.Add(cluster.Name);
                data[$"cluster:{cluster.Name}"] = "Not enabled (ClusterView:Enabled is off for this cluster).";
                continue;
            }

            watched++;
            var result = Check(view, $"The view of cluster '{cluster.Name}' of scheme '{scheme}'", $"{scheme}/{cluster.Name}", failureStatus);
            data[$"cluster:{cluster.Name}"] = $"{result.Status}: {result.Description}";
            if (result.Status < worst)
            {
                worst = result.Status;
            }

            if (result.Status != HealthStatus.Healthy)
            {
                problems.Add($"cluster '{cluster.Name}': {result.Status}: {result.Description}");
            }
        }

        if (watched == 0)
        {
            return HealthCheckResult.Healthy($"No cluster of scheme '{scheme}' has its cluster view enabled (ClusterView:Enabled).", data);
        }

        var summary = $"{watched - problems.Count} of {watched} cluster views of scheme '{scheme}' are complete and watching."
            + (problems.Count == 0 ? string.Empty : " " + string.Join(" ", problems))
            + (off.Count == 0 ? string.Empty : $" Not enabled on: {string.Join(", ", off.Select(n => $"'{n}'"))}.");
        return new HealthCheckResult(worst, summary, data: data);
    }

    /// <summary>One cluster's view; <paramref name="subject"/> opens each message (<c>The cluster view of scheme 'k8s'</c>).</summary>
    private static HealthCheckResult Check(KubernetesClusterView view, string subject, string name, HealthStatus failureStatus)
    {
        var data = new Dictionary<string, object>
        {
            ["scheme"] = name,
            ["apiServer"] = view.Client.ApiServer.ToString(),
            ["pods"] = view.Pods.Count,
            ["serviceAccounts"] = view.ServiceAccounts.Count,
            ["lookups"] = view.Lookup.Lookups,
        };
        if (view.Namespaces is { } namespaces)
        {
            data["namespaces"] = namespaces.Count;
        }

        // Since when the view is down: the earliest failure still unresolved among its resources.
        var downSince = view.Reflectors.Min(r => r.DownSince);
        var since = downSince is { } d ? $" since {d.ToString("o", CultureInfo.InvariantCulture)}" : string.Empty;
        if (downSince is { } down)
        {
            data["downSince"] = down.ToString("o", CultureInfo.InvariantCulture);
        }

        // Resources never listed: label policies refuse and revocations of their objects are unknown until they are.
        var neverListed = view.Reflectors.Where(r => !r.IsSynced).Select(r => r.Description).ToList();
        var unsynced = neverListed.Count == 0 ? string.Empty : $" Never listed yet: {string.Join(", ", neverListed)}.";
        if (neverListed.Count > 0)
        {
            data["notSynced"] = string.Join(", ", neverListed);
        }

        var forbidden = view.Reflectors.Where(r => r.Forbidden is not null).Select(r => r.Forbidden!).ToList();
        var errors = view.Reflectors.Where(r => r.Forbidden is null && r.Error is not null).Select(r => $"{r.Description}: {r.Error}").ToList();
        var listing = view.Reflectors.Where(r => !r.IsSynced && r.Forbidden is null && r.Error is null).Select(r => r.Description).ToList();
        if (forbidden.Count > 0)
        {
            data["forbidden"] = string.Join("; ", forbidden);
            var message = $"{subject} is refused by RBAC{since}: may not {string.Join(", ", forbidden)}. Grant them (samples/k8s/rbac-cluster-view.yaml); label policies refuse meanwhile.{unsynced}";
            return forbidden.Count == view.Reflectors.Count
                ? new HealthCheckResult(failureStatus, message, data: data)
                : HealthCheckResult.Degraded(message, data: data);
        }

        if (errors.Count > 0)
        {
            data["errors"] = string.Join("; ", errors);
            return HealthCheckResult.Degraded($"{subject} is disconnected{since} ({string.Join("; ", errors)}); deciding with the view in hand, revocations unseen until it reconnects.{unsynced}", data: data);
        }

        if (listing.Count > 0)
        {
            return HealthCheckResult.Degraded($"{subject} is not synced yet: still listing {string.Join(", ", listing)}.", data: data);
        }

        return HealthCheckResult.Healthy($"{subject} is complete and watching ({view.Pods.Count} pods, {view.ServiceAccounts.Count} service accounts).", data);
    }
}
