// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.EndToEnd;

/// <summary>
/// Issuer migration (<c>--service-account-issuer</c> given twice) on the sample API, configured as a
/// deployment would be: the sample runs in its own process on Kestrel (127.0.0.1:0), every setting from
/// environment variables (<c>Authentication__Schemes__KubernetesServiceAccount__AdditionalIssuers__0</c>),
/// WireMock.Net playing the API server.
/// </summary>
public sealed class SampleApiAdditionalIssuersTests
{
    private const string Prefix = "Authentication__Schemes__KubernetesServiceAccount__";
    private const string OldIssuer = "https://old-issuer.example";

    [Fact]
    public async Task Sample_accepts_a_token_of_an_additional_issuer_bound_from_environment_variables()
    {
        using var apiServer = FakeApiServer.ForSampleApi();
        var environment = new Dictionary<string, string>
        {
            [Prefix + "Issuer"] = apiServer.Issuer.Issuer,
            [Prefix + "MetadataAddress"] = apiServer.MetadataAddress,
            [Prefix + "JwksUri"] = apiServer.JwksUri,
            [Prefix + "RequireHttpsMetadata"] = "false",
            [Prefix + "AdditionalIssuers__0"] = OldIssuer,
        };
        await using var sample = await SampleProcess.StartAsync(environment);

        using var old = await sample.GetAsync("/whoami", apiServer.Issuer.CreateToken("my-namespace", "my-service-account").WithIssuer(OldIssuer).Build());
        using var current = await sample.GetAsync("/whoami", apiServer.Issuer.CreateToken("my-namespace", "my-service-account").Build());
        using var stranger = await sample.GetAsync("/whoami", apiServer.Issuer.CreateToken("my-namespace", "my-service-account").WithIssuer("https://stranger.example").Build());

        Assert.Equal(HttpStatusCode.OK, old.StatusCode);
        Assert.Contains($"\"issuer\":\"{OldIssuer}\"", await old.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, current.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, stranger.StatusCode);
        // The caller learns its own issuer is not accepted, never which ones are (issue 20: those are in the log).
        var challenge = Assert.Single(stranger.Headers.WwwAuthenticate).Parameter;
        Assert.Contains("'https://stranger.example' is not accepted here", challenge, StringComparison.Ordinal);
        Assert.DoesNotContain(OldIssuer, challenge, StringComparison.Ordinal);
    }

    /// <summary>The built sample API (<c>dotnet KubeSaAuth.Sample.Api.dll</c>) with the given environment, on a port the OS picks.</summary>
    private sealed class SampleProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly HttpClient _client;

        private SampleProcess(Process process, Uri address)
        {
            _process = process;
            _client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
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
            process.ErrorDataReceived += (_, _) => { };
            process.BeginErrorReadLine();
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                while (true)
                {
                    var line = await process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException($"the sample exited ({(process.WaitForExit(5000) ? process.ExitCode : -1)}) before listening");
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
}
