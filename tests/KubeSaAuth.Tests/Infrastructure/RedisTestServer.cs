// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>
/// A real <c>redis-server</c> for the shared TokenReview cache tests. <c>.ci/run</c> starts one on a free
/// loopback port and passes it as <c>KUBESA_TEST_REDIS=127.0.0.1:port</c>; without the variable a test starts
/// its own <c>redis-server</c> (Debian package <c>redis-server</c>) on a free port, so <c>dotnet test</c> alone
/// works. Tests that stop Redis mid-run always start their own.
/// </summary>
internal sealed class RedisTestServer : IAsyncDisposable
{
    public const string EnvironmentVariable = "KUBESA_TEST_REDIS";

    private Process? _process;

    private RedisTestServer(string endpoint, Process? process)
    {
        Endpoint = endpoint;
        _process = process;
    }

    /// <summary>The server as a StackExchange.Redis configuration string: <c>127.0.0.1:port</c>.</summary>
    public string Endpoint { get; }

    /// <summary>The redis-server binary on PATH, or null.</summary>
    public static string? BinaryPath { get; } = FindBinary();

    public static string? SharedEndpoint => Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } value ? value : null;

    public static bool Available => SharedEndpoint is not null || BinaryPath is not null;

    public const string SkipReason = "No Redis: set KUBESA_TEST_REDIS=host:port or install redis-server (apt-get install redis-server).";

    /// <summary>The server .ci/run started, else a new one of this test's own.</summary>
    public static Task<RedisTestServer> StartAsync() =>
        SharedEndpoint is { } shared ? Task.FromResult(new RedisTestServer(shared, null)) : StartOwnAsync();

    /// <summary>A redis-server of this test's own, on a free loopback port (which it can stop).</summary>
    public static async Task<RedisTestServer> StartOwnAsync()
    {
        var binary = BinaryPath ?? throw new InvalidOperationException(SkipReason);
        for (var attempt = 0; ; attempt++)
        {
            var port = FreePort();
            var start = new ProcessStartInfo(binary)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", string.Empty, "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning" })
            {
                start.ArgumentList.Add(argument);
            }

            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var endpoint = $"127.0.0.1:{port}";
            if (await WaitForPongAsync(port, process))
            {
                return new RedisTestServer(endpoint, process);
            }

            Kill(process);
            if (attempt == 4)
            {
                throw new InvalidOperationException($"redis-server did not start on {endpoint}.");
            }
        }
    }

    /// <summary>Stops a server this test started (mid-run outage); a shared one cannot be stopped.</summary>
    public void Stop()
    {
        var process = _process ?? throw new InvalidOperationException("Only a redis-server the test started itself can be stopped.");
        _process = null;
        Kill(process);
    }

    public ValueTask DisposeAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            Kill(process);
        }

        return ValueTask.CompletedTask;
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(5_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        process.Dispose();
    }

    private static async Task<bool> WaitForPongAsync(int port, Process process)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && !process.HasExited)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                var stream = client.GetStream();
                await stream.WriteAsync("PING\r\n"u8.ToArray());
                var buffer = new byte[16];
                var read = await stream.ReadAsync(buffer);
                if (Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal))
                {
                    return true;
                }
            }
            catch (SocketException)
            {
            }

            await Task.Delay(50);
        }

        return false;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static string? FindBinary()
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator).Append("/usr/bin").Append("/usr/local/bin"))
        {
            if (directory.Length > 0 && File.Exists(Path.Combine(directory, "redis-server")))
            {
                return Path.Combine(directory, "redis-server");
            }
        }

        return null;
    }
}

/// <summary>A fact that skips, with a message, when no Redis can be had (see <see cref="RedisTestServer"/>).</summary>
internal sealed class RedisFactAttribute : FactAttribute
{
    public RedisFactAttribute(bool ownServer = false)
    {
        if (ownServer ? RedisTestServer.BinaryPath is null : !RedisTestServer.Available)
        {
            Skip = RedisTestServer.SkipReason;
        }
    }
}

/// <summary>A theory that skips, with a message, when no Redis can be had (see <see cref="RedisTestServer"/>).</summary>
internal sealed class RedisTheoryAttribute : TheoryAttribute
{
    public RedisTheoryAttribute()
    {
        if (!RedisTestServer.Available)
        {
            Skip = RedisTestServer.SkipReason;
        }
    }
}
