// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Text.Json;
using KubeSaAuth.Schemes;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Tests.Tool;

/// <summary>
/// <c>kubesa dev-issuer</c> end to end: the built tool as a real child process on a free port, discovery, JWKS and
/// tokens over HTTP as curl gets them, the tokens judged by the library configured only from the printed settings,
/// then SIGTERM or SIGINT and a clean exit.
/// </summary>
public sealed class DevIssuerProcessTests
{
    [Fact]
    public async Task Serves_discovery_jwks_and_tokens_that_the_library_accepts_then_exits_on_sigterm()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // POSIX signals
        }

        await using var child = ChildProcess.Start("kubesa.dll", "dev-issuer", "--port", "0");
        var baseUrl = await ListeningAsync(child);
        var settings = PrintedSettings(child.Output);
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };

        // Discovery and JWKS, as the API server serves them.
        using var discovery = JsonDocument.Parse(await http.GetStringAsync(".well-known/openid-configuration"));
        Assert.Equal(settings["Issuer"], discovery.RootElement.GetProperty("issuer").GetString());
        Assert.Equal($"{baseUrl}/openid/v1/jwks", discovery.RootElement.GetProperty("jwks_uri").GetString());
        using var jwksResponse = await http.GetAsync("openid/v1/jwks");
        Assert.Equal("application/jwk-set+json", jwksResponse.Content.Headers.ContentType?.MediaType);
        using var jwks = JsonDocument.Parse(await jwksResponse.Content.ReadAsStringAsync());
        Assert.NotEqual(0, jwks.RootElement.GetProperty("keys").GetArrayLength());

        // Tokens for any namespace, service account, pod and audience; an expired one on request.
        var token = (await http.GetStringAsync("token?namespace=team-a&serviceAccount=worker&pod=worker-0&audience=my-api")).Trim();
        var expired = (await http.GetStringAsync("token?namespace=team-a&serviceAccount=worker&expired=true")).Trim();
        var otherAudience = (await http.GetStringAsync("token?namespace=team-b&serviceAccount=reader&audience=vault")).Trim();
        using var badLifetime = await http.GetAsync("token?lifetime=soon");
        Assert.Equal(HttpStatusCode.BadRequest, badLifetime.StatusCode);

        // The library, configured only with what the dev issuer printed, judges them.
        using var services = BuildServices(settings);
        var runtime = GetRuntime(services);
        var accepted = await runtime.Validator.ValidateAsync(token, CancellationToken.None);
        Assert.Null(accepted.Failure);
        Assert.Equal("team-a", accepted.ServiceAccount!.Namespace);
        Assert.Equal("worker", accepted.ServiceAccount.Name);
        Assert.Equal("worker-0", accepted.ServiceAccount.PodName);
        Assert.Equal(KubernetesTokenFailureReason.Expired, (await runtime.Validator.ValidateAsync(expired, CancellationToken.None)).Failure?.Reason);
        Assert.Equal(KubernetesTokenFailureReason.InvalidAudience, (await runtime.Validator.ValidateAsync(otherAudience, CancellationToken.None)).Failure?.Reason);

        await child.SignalAsync("TERM");

        Assert.True(await child.ExitsAsync(), $"kubesa dev-issuer ignored SIGTERM. Output:\n{child.Output}");
        Assert.Equal(0, child.ExitCode);
    }

    [Fact]
    public async Task Stops_on_ctrl_c()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // POSIX signals
        }

        await using var child = ChildProcess.Start("kubesa.dll", "dev-issuer");
        await ListeningAsync(child);

        await child.SignalAsync("INT");

        Assert.True(await child.ExitsAsync(), $"kubesa dev-issuer ignored SIGINT. Output:\n{child.Output}");
        Assert.Equal(0, child.ExitCode);
    }

    private static async Task<string> ListeningAsync(ChildProcess child)
    {
        var line = await child.WaitForLineAsync(l => l.StartsWith("Listening on ", StringComparison.Ordinal));
        var baseUrl = line["Listening on ".Length..].Trim();
        var uri = new Uri(baseUrl);
        Assert.Equal("127.0.0.1", uri.Host);
        Assert.NotEqual(0, uri.Port); // port 0: a free port, printed
        return baseUrl;
    }

    /// <summary>The environment-variable form of the printed settings, read back as a user would paste it.</summary>
    private static Dictionary<string, string> PrintedSettings(string output)
    {
        const string Prefix = "Authentication__Schemes__KubernetesServiceAccount__";
        var settings = new Dictionary<string, string>();
        foreach (var line in output.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            var at = line.IndexOf('=', StringComparison.Ordinal);
            settings[line[Prefix.Length..at]] = line[(at + 1)..];
        }

        Assert.Contains("Issuer", settings.Keys);
        Assert.Contains("MetadataAddress", settings.Keys);
        Assert.Equal("false", settings["RequireHttpsMetadata"]);
        return settings;
    }

    private static ServiceProvider BuildServices(Dictionary<string, string> settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(
                "Authentication:Schemes:KubernetesServiceAccount:" + s.Key.Replace("__", ":", StringComparison.Ordinal), s.Value)))
            .Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddAuthentication().AddKubernetesServiceAccount();
        return services.BuildServiceProvider();
    }

    private static SchemeRuntime GetRuntime(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(KubernetesServiceAccountDefaults.AuthenticationScheme);
        return services.GetRequiredService<SchemeRuntimeFactory>().GetOrCreate(KubernetesServiceAccountDefaults.AuthenticationScheme, options);
    }
}
