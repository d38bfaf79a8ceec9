// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using KubeSaAuth.Keys;
using KubeSaAuth.Schemes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>The outcome of one request: status, and the reason the handler gave when it refused.</summary>
internal sealed record AuthOutcome(HttpStatusCode Status, KubernetesTokenFailureReason? Reason, string? Description, string? Challenge, string Body);

/// <summary>
/// A minimal API with the handler under test: <c>GET /</c> requires an authenticated service account
/// and answers its namespace. Time is a <see cref="FakeTimeProvider"/>; refusals are recorded per request
/// (through <c>OnAuthenticationFailed</c>) so tests can assert the reason, not only the status.
/// </summary>
internal sealed class KeysTestHost : IAsyncDisposable
{
    private const string RequestIdHeader = "X-Test-Request";
    private readonly ConcurrentDictionary<string, KubernetesTokenException> _failures;
    private readonly WebApplication _app;

    private readonly bool _kestrel;
    private HttpClient? _client;

    private KeysTestHost(WebApplication app, bool kestrel, FakeTimeProvider time, ConcurrentDictionary<string, KubernetesTokenException> failures)
    {
        _app = app;
        _kestrel = kestrel;
        _failures = failures;
        Time = time;
    }

    /// <summary>A client of the started host.</summary>
    public HttpClient Client => _client ??= _kestrel
        ? new HttpClient { BaseAddress = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) }
        : _app.GetTestClient();

    public FakeTimeProvider Time { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>The key source of the default scheme (created on first use).</summary>
    public SigningKeySource Keys => Services.GetRequiredService<KeySourceRegistry>().Get(KubernetesServiceAccountDefaults.AuthenticationScheme)
        ?? throw new InvalidOperationException("No request has built the scheme's runtime yet.");

    /// <summary>Builds and starts the host.</summary>
    /// <param name="time">The clock shared with the issuer.</param>
    /// <param name="configure">Handler options.</param>
    /// <param name="kestrel">Serve over real HTTP on 127.0.0.1:0 instead of TestServer.</param>
    /// <param name="services">Extra services (logging, health checks).</param>
    /// <param name="start">Whether to start the host (false: the test starts it).</param>
    public static async Task<KeysTestHost> StartAsync(
        FakeTimeProvider time,
        Action<KubernetesServiceAccountOptions> configure,
        bool kestrel = false,
        Action<IServiceCollection>? services = null,
        bool start = true)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (kestrel)
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }
        else
        {
            builder.WebHost.UseTestServer(o => o.PreserveExecutionContext = true);
        }

        builder.Services.AddSingleton<TimeProvider>(time);
        var failures = new ConcurrentDictionary<string, KubernetesTokenException>(StringComparer.Ordinal);
        builder.Services.AddAuthentication(KubernetesServiceAccountDefaults.AuthenticationScheme)
            .AddKubernetesServiceAccount(o =>
            {
                configure(o);
                var previous = o.Events.OnAuthenticationFailed;
                o.Events.OnAuthenticationFailed = async context =>
                {
                    if (context.Request.Headers.TryGetValue(RequestIdHeader, out var id))
                    {
                        failures[id.ToString()] = context.Exception;
                    }

                    await previous(context);
                };
            });
        builder.Services.AddAuthorization();
        services?.Invoke(builder.Services);
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/", (HttpContext context) => context.User.GetKubernetesServiceAccount()!.Namespace).RequireAuthorization();
        app.MapGet("/account", (HttpContext context) => Results.Json(context.User.GetKubernetesServiceAccount())).RequireAuthorization();

        if (start)
        {
            await app.StartAsync();
        }

        return new KeysTestHost(app, kestrel, time, failures);
    }

    /// <summary>Starts a host built with <c>start: false</c> (TestServer only).</summary>
    public Task StartHostAsync(CancellationToken cancellationToken = default) => _app.StartAsync(cancellationToken);

    public Task<AuthOutcome> SendAsync(string? token) =>
        SendAsync(request =>
        {
            if (token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }
        });

    /// <summary>Sends <c>GET /</c>, letting <paramref name="shape"/> set the headers.</summary>
    public async Task<AuthOutcome> SendAsync(Action<HttpRequestMessage> shape, string path = "/", CancellationToken cancellationToken = default)
    {
        var id = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation(RequestIdHeader, id);
        shape(request);
        using var response = await Client.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        var challenge = response.Headers.WwwAuthenticate.Count == 0 ? null : string.Join(", ", response.Headers.WwwAuthenticate);
        _failures.TryGetValue(id, out var failure);
        return new AuthOutcome(response.StatusCode, failure?.Reason, failure?.Message, challenge, body);
    }

    /// <summary>Advances the fake clock a second at a time until <paramref name="task"/> completes; returns the time advanced.</summary>
    public async Task<TimeSpan> AdvanceUntilAsync(Task task, TimeSpan step, TimeSpan limit)
    {
        var advanced = TimeSpan.Zero;
        while (!task.IsCompleted && advanced < limit)
        {
            // Let requests that are on their way reach their wait before the clock moves.
            await Task.WhenAny(task, Task.Delay(50));
            if (task.IsCompleted)
            {
                break;
            }

            Time.Advance(step);
            advanced += step;
        }

        await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.True(task.IsCompleted, $"Still pending after the clock advanced {advanced}.");
        return advanced;
    }

    public async ValueTask DisposeAsync()
    {
        _client?.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
