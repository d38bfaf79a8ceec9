// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using KubeSaAuth.Keys;
using KubeSaAuth.Schemes;
using KubeSaAuth.Tokens;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Diagnostics;

/// <summary>
/// The health of a scheme's signing keys: Healthy when the last fetch succeeded, Degraded while fetches
/// fail and older keys are served (stale while error), Unhealthy when there are no keys. Meant for a
/// readiness probe, never for liveness: an unreachable issuer must not restart the Pod.
/// </summary>
internal sealed class KubernetesServiceAccountKeysHealthCheck(IOptionsMonitor<KubernetesServiceAccountOptions> optionsMonitor, SchemeRuntimeFactory runtimes, string scheme) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        SchemeRuntime runtime;
        try
        {
            runtime = runtimes.GetOrCreate(scheme, optionsMonitor.Get(scheme));
        }
        catch (InvalidOperationException ex)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"Scheme '{scheme}' is misconfigured: {ex.Message}");
        }

        if (runtime.Clusters.Length == 1)
        {
            return await CheckAsync(runtime.Keys, scheme, context.Registration.FailureStatus, cancellationToken).ConfigureAwait(false);
        }

        // Each cluster on its own, at once: a hanging one costs its MaxKeyFetchWait, not the sum.
        var results = await Task.WhenAll(runtime.Clusters.Select(c => CheckAsync(c.Keys, $"{scheme}/{c.Name}", context.Registration.FailureStatus, cancellationToken))).ConfigureAwait(false);
        var data = new Dictionary<string, object> { ["scheme"] = scheme, ["clusters"] = results.Length };
        var worst = HealthStatus.Healthy;
        var problems = new List<string>();
        for (var i = 0; i < results.Length; i++)
        {
            var result = results[i];
            data[$"cluster:{runtime.Clusters[i].Name}"] = $"{result.Status}: {result.Description}";
            if (result.Status < worst)
            {
                worst = result.Status;
            }

            if (result.Status != HealthStatus.Healthy)
            {
                problems.Add($"cluster '{runtime.Clusters[i].Name}': {result.Status}: {result.Description}");
            }
        }

        var summary = $"{results.Length - problems.Count} of {results.Length} clusters of scheme '{scheme}' have healthy signing keys." + (problems.Count == 0 ? string.Empty : " " + string.Join(" ", problems));
        return new HealthCheckResult(worst, summary, data: data);
    }

    private static async Task<HealthCheckResult> CheckAsync(SigningKeySource keys, string scheme, HealthStatus failureStatus, CancellationToken cancellationToken)
    {
        // Starts the first fetch if none ran yet (bounded by MaxKeyFetchWait).
        await keys.GetKeySetAsync(cancellationToken).ConfigureAwait(false);
        var status = keys.GetStatus();
        var data = new Dictionary<string, object>
        {
            ["scheme"] = scheme,
            ["keys"] = status.KeyCount,
            ["consecutiveFailures"] = status.ConsecutiveFailures,
        };
        if (status.LastSuccess is { } success)
        {
            data["lastSuccess"] = success.ToString("o", CultureInfo.InvariantCulture);
        }

        if (status.LastError is { } error)
        {
            data["lastError"] = error;
        }

        // RFC 7518 §3.3: keys refused for their size are named, so an operator sees why a cluster's tokens fail.
        var weak = string.Empty;
        if (status.WeakKeys is { Count: > 0 } weakKeys)
        {
            data["weakKeys"] = string.Join(", ", weakKeys);
            weak = $" Refused {weakKeys.Count} RSA {(weakKeys.Count == 1 ? "key" : "keys")} under 2048 bits (RFC 7518 §3.3): {string.Join(", ", weakKeys)}; tokens signed with {(weakKeys.Count == 1 ? "it" : "them")} are refused.";
        }

        if (status.Kind == KeySourceKind.File)
        {
            data["path"] = status.Address ?? string.Empty;
            if (status.IsStale || !status.HasKeys)
            {
                // The file is the whole truth about the keys: while it cannot be used, the scheme is not ready,
                // even though the keys read from it before still validate.
                var kept = status.HasKeys ? $"; still validating with the {status.KeyCount} keys read {status.LastSuccess:o}" : string.Empty;
                return new HealthCheckResult(failureStatus,
                    $"The key file '{status.Address}' of scheme '{scheme}' (JwksPath) cannot be used: {status.LastError}{kept}.{weak}", data: data);
            }
        }

        if (!status.HasKeys || status.KeyCount == 0)
        {
            return new HealthCheckResult(failureStatus,
                $"No signing keys for scheme '{scheme}'{(status.LastError is null ? string.Empty : ": " + status.LastError)}.{weak}", data: data);
        }

        if (status.Kind is KeySourceKind.File or KeySourceKind.Static)
        {
            return HealthCheckResult.Healthy($"{status.KeyCount} signing keys for scheme '{scheme}', read from {status.Address} at {status.LastSuccess:o}.{weak}", data);
        }

        return status.IsStale
            ? HealthCheckResult.Degraded($"Serving {status.KeyCount} stale signing keys for scheme '{scheme}' (fetched {status.LastSuccess:o}); the last fetch failed: {status.LastError}{weak}", data: data)
            : HealthCheckResult.Healthy($"{status.KeyCount} signing keys for scheme '{scheme}', fetched {status.LastSuccess:o}.{weak}", data);
    }
}
