// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Net.Http.Headers;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>The built sample API (<c>dotnet KubeSaAuth.Sample.Api.dll</c>) with the given environment, on a port the OS picks.</summary>
internal sealed class SampleProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly HttpClient _client;

    private SampleProcess(Process process, Uri address)
    {
        _process = process;
        _client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public static async Task<SampleProcess> StartAsync(IReadOnlyDictionary<string, string> environment)
    {
        // The sample built in the same configuration as these tests (bin/<configuration>/<tfm>/).
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory);
        var dll = Path.Combine(RepositoryRoot.Path!, "samples", "KubeSaAuth.Sample.Api", "bin", testOutput.Parent!.Name, testOutput.Name, "KubeSaAuth.Sample.Api.dll");
        Assert.True(File.Exists(dll), $"build the solution first: {dll} is missing");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        start.ArgumentList.Add(dll);
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start)!;
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var output = new List<string>();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                errors.Enqueue(e.Data);
            }
        };
        process.BeginErrorReadLine();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (true)
            {
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
                if (line is null)
                {
                    var exit = process.WaitForExit(5000) ? process.ExitCode : -1;
                    if (exit != -1)
                    {
                        // Without a timeout, it also waits until standard error is read to its end.
                        process.WaitForExit();
                    }

                    throw new SampleExitedException(exit, string.Join("\n", output.Concat(errors)));
                }

                output.Add(line);
                var at = line.IndexOf("Now listening on: ", StringComparison.Ordinal);
                if (at >= 0)
                {
                    var address = new Uri(line[(at + "Now listening on: ".Length)..].Trim());
                    // Keep draining its output, so that the process never blocks on a full pipe.
                    _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
                    return new SampleProcess(process, address);
                }
            }
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    public async Task<HttpResponseMessage> GetAsync(string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await _client.SendAsync(request);
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}

/// <summary>The sample exited before listening (a startup error): its exit code and what it wrote.</summary>
internal sealed class SampleExitedException(int exitCode, string output)
    : Exception($"the sample exited ({exitCode}) before listening: {output}")
{
    public int ExitCode { get; } = exitCode;

    public string Output { get; } = output;
}
