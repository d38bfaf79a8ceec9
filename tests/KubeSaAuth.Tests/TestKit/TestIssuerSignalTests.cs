// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.TestKit;

/// <summary>
/// A process that hosts <c>KubernetesTestIssuer</c> keeps its signals: SIGTERM and SIGINT end it (the issuer's
/// embedded server does not take the console lifetime). Runs tests/KubeSaAuth.TestIssuerHost as a child process.
/// </summary>
public sealed class TestIssuerSignalTests
{
    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task A_process_hosting_the_test_issuer_exits_on_the_signal(string signal)
    {
        if (OperatingSystem.IsWindows())
        {
            return; // POSIX signals
        }

        await using var child = ChildProcess.Start("KubeSaAuth.TestIssuerHost.dll");
        var line = await child.WaitForLineAsync(l => l.StartsWith("issuer at ", StringComparison.Ordinal));
        using (var client = new HttpClient())
        {
            // The issuer serves: the signal arrives at a process whose server is up.
            using var discovery = await client.GetAsync(new Uri(new Uri(line["issuer at ".Length..]), ".well-known/openid-configuration"));
            Assert.Equal(System.Net.HttpStatusCode.OK, discovery.StatusCode);
        }

        await child.SignalAsync(signal);

        Assert.True(await child.ExitsAsync(), $"the process hosting the test issuer ignored SIG{signal}. Output:\n{child.Output}");
    }
}
