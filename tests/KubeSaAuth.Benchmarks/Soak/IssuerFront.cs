// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Text.Json;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.Benchmarks.Soak;

/// <summary>
/// Serves a <see cref="KubernetesTestIssuer"/> (its in-process handler: documents, faults, 406) on 127.0.0.1
/// and records every JWKS answer that a client could have taken as a key set (200 with parseable keys),
/// with the time it was served: the soak's record of which keys the API could hold, and since when.
/// </summary>
internal sealed class IssuerFront(KubernetesTestIssuer issuer) : IAsyncDisposable
{
    private readonly HttpClient _inner = new(issuer.CreateHandler()) { BaseAddress = issuer.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
    private WebApplication? _app;

    public KeyTimeline Timeline { get; } = new();

    public Uri Address { get; private set; } = new("http://127.0.0.1/");

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.Run(async context =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, context.Request.Path.Value);
            request.Headers.TryAddWithoutValidation("Accept", context.Request.Headers.Accept.ToString());
            using var response = await _inner.SendAsync(request, context.RequestAborted);
            var body = await response.Content.ReadAsStringAsync(context.RequestAborted);
            if (context.Request.Path == KubernetesServiceAccountDefaults.JwksPath && (int)response.StatusCode == 200 && TryReadKids(body, out var kids))
            {
                // Recorded before the answer leaves: the client cannot hold these keys earlier than this.
                Timeline.Add(Stopwatch.GetTimestamp(), kids);
            }

            context.Response.StatusCode = (int)response.StatusCode;
            context.Response.ContentType = response.Content.Headers.ContentType?.ToString();
            await context.Response.WriteAsync(body, context.RequestAborted);
        });
        await _app.StartAsync();
        Address = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/");
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        _inner.Dispose();
    }

    private static bool TryReadKids(string body, out HashSet<string> kids)
    {
        kids = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            using var document = JsonDocument.Parse(body);
            foreach (var key in document.RootElement.GetProperty("keys").EnumerateArray())
            {
                kids.Add(key.GetProperty("kid").GetString()!);
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
        catch (KeyNotFoundException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
