// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace KubeSaAuth.InCluster;

/// <summary>
/// Where the API server is, from the variables the kubelet sets in every container
/// (<c>KUBERNETES_SERVICE_HOST</c>, <c>KUBERNETES_SERVICE_PORT</c>), as client-go's <c>rest.InClusterConfig</c>.
/// Registered as a service only by tests, to supply variables without touching the process environment.
/// </summary>
internal sealed class InClusterEnvironment(Func<string, string?> getVariable)
{
    public const string HostVariable = "KUBERNETES_SERVICE_HOST";
    public const string PortVariable = "KUBERNETES_SERVICE_PORT";
    public const string FallbackApiServer = "https://kubernetes.default.svc";

    public static readonly InClusterEnvironment Process = new(Environment.GetEnvironmentVariable);

    /// <summary>The API server base address (no trailing slash), and whether it came from the variables.</summary>
    /// <exception cref="InvalidOperationException">The variables are set but unusable.</exception>
    public (Uri BaseAddress, bool FromEnvironment) ResolveApiServer()
    {
        var host = getVariable(HostVariable)?.Trim();
        var port = getVariable(PortVariable)?.Trim();
        if (string.IsNullOrEmpty(host))
        {
            return (new Uri(FallbackApiServer), false);
        }

        if (string.IsNullOrEmpty(port))
        {
            port = "443";
        }

        if (!ushort.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var portNumber) || portNumber == 0)
        {
            throw new InvalidOperationException($"In-cluster mode: {PortVariable} ('{port}') is not a port number.");
        }

        // client-go: net.JoinHostPort brackets an IPv6 literal ("[fd00::1]:443").
        var authority = IPAddress.TryParse(host, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6 && !host.StartsWith('[')
            ? $"[{host}]"
            : host;
        if (!Uri.TryCreate($"https://{authority}:{portNumber.ToString(CultureInfo.InvariantCulture)}", UriKind.Absolute, out var uri) || uri.AbsolutePath != "/")
        {
            throw new InvalidOperationException($"In-cluster mode: {HostVariable} ('{host}') is not a host name or IP address.");
        }

        return (uri, true);
    }
}
