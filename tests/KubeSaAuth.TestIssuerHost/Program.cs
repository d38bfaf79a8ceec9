// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Testing;

namespace KubeSaAuth.TestIssuerHost;

/// <summary>
/// Serves a stand-in issuer, prints its address, then waits for ever: no host and no signal handler of its
/// own, so SIGTERM and SIGINT end it only if the issuer leaves the process's signals alone.
/// </summary>
internal static class Program
{
    public static async Task Main()
    {
        await using var issuer = await KubernetesTestIssuer.StartAsync().ConfigureAwait(false);
        Console.WriteLine($"issuer at {issuer.BaseAddress}");
        await Task.Delay(Timeout.Infinite).ConfigureAwait(false);
    }
}
