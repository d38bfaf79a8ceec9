// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth;

/// <summary>In-cluster configuration of <see cref="KubernetesServiceAccountOptions"/>.</summary>
public static class InClusterOptionsExtensions
{
    /// <summary>
    /// Fetches discovery and JWKS from the API server the Pod runs under (<c>KUBERNETES_SERVICE_HOST</c>/<c>PORT</c>,
    /// else <c>https://kubernetes.default.svc</c>), trusting only the cluster CA and authenticating with the
    /// Pod's token, both from <paramref name="serviceAccountDirectory"/>. The same as configuration <c>InCluster: true</c>.
    /// </summary>
    /// <param name="options">The options.</param>
    /// <param name="serviceAccountDirectory">The directory holding <c>token</c> and <c>ca.crt</c>; default the mounted one.</param>
    /// <returns>The options.</returns>
    public static KubernetesServiceAccountOptions UseInCluster(this KubernetesServiceAccountOptions options, string? serviceAccountDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.InCluster = true;
        if (serviceAccountDirectory is not null)
        {
            options.ServiceAccountDirectory = serviceAccountDirectory;
        }

        return options;
    }
}
