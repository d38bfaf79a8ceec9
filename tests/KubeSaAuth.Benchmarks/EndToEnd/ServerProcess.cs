// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace KubeSaAuth.Benchmarks.EndToEnd;

/// <summary>
/// A server under test in its own process (<c>dotnet app.dll --urls http://127.0.0.1:0</c>): started with its
/// environment, its bound address read from its output, its resident memory read from <c>/proc</c>, and
/// killed (with its children) when disposed. Its output goes to a log file.
/// </summary>
internal sealed partial class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<Uri> _address = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StreamWriter _log;

    private ServerProcess(string name, Process process, StreamWriter log)
    {
        Name = name;
        _process = process;
        _log = log;
    }

    public string Name { get; }

    public int ProcessId => _process.Id;

    public Uri Address => _address.Task.IsCompletedSuccessfully ? _address.Task.Result : throw new InvalidOperationException($"{Name} has not started.");

    public bool HasExited => _process.HasExited;

    /// <summary>Starts <c>dotnet <paramref name="dll"/> <paramref name="arguments"/> --urls http://127.0.0.1:0</c> and waits for its address.</summary>
    public static async Task<ServerProcess> StartAsync(string name, string dll, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, string logPath, TimeSpan timeout)
    {
        // A .dll runs on the shared runtime (dotnet app.dll); anything else is a native executable (Native AOT).
        var managed = dll.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
        var start = new ProcessStartInfo(managed ? "dotnet" : dll)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (managed)
        {
            start.ArgumentList.Add(dll);
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add("http://127.0.0.1:0");
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        // The host prints "Now listening on: ..." through Microsoft.Hosting.Lifetime; keep that one category on.
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        start.Environment["DOTNET_NOLOGO"] = "1";

        var log = new StreamWriter(logPath, append: false) { AutoFlush = true };
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var server = new ServerProcess(name, process, log);
        process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        process.Exited += (_, _) => server._address.TrySetException(new InvalidOperationException($"{name} exited with code {process.ExitCode} before it listened; see {logPath}."));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var finished = await Task.WhenAny(server._address.Task, Task.Delay(timeout));
        if (finished != server._address.Task)
        {
            server.Dispose();
            throw new TimeoutException($"{name} did not report its address within {timeout.TotalSeconds:0} s; see {logPath}.");
        }

        await server._address.Task;
        return server;
    }

    /// <summary>Resident set size in bytes (<c>VmRSS</c> of <c>/proc/PID/status</c>), or 0 when unavailable.</summary>
    public long ReadResidentBytes()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    var kilobytes = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                    return kilobytes * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return 0;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            try
            {
                _log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
            }
        }

        var match = ListeningLine().Match(line);
        if (match.Success)
        {
            _address.TrySetResult(new Uri(match.Groups[1].Value.TrimEnd('/') + "/"));
        }
    }

    [GeneratedRegex(@"(?:Now listening on|listening):\s*(http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningLine();
}
