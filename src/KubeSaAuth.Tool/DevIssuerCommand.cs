// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.Tool;

/// <summary>
/// <c>kubesa dev-issuer [--port N] [--issuer URL] [--audience A]...</c>: a stand-in cluster for trying an app by
/// hand. The test kit's <see cref="KubernetesTestIssuer"/> (real keys, discovery and JWKS as the API server serves
/// them) on http://127.0.0.1:N, plus <c>GET /token</c>, which mints a token for any namespace, service account,
/// Pod, audience and lifetime, expired ones included. Loopback only; stops on Ctrl+C and SIGTERM.
/// </summary>
internal static class DevIssuerCommand
{
    public const string TokenPath = "/token";

    public const string Usage = """
        Usage: kubesa dev-issuer [--port N] [--issuer URL] [--audience A]...

        A stand-in Kubernetes cluster for trying an app by hand: serves the discovery document at
        http://127.0.0.1:N/.well-known/openid-configuration and the JWKS at /openid/v1/jwks with real
        keys, prints the settings to paste into the app, and mints tokens on request. Ctrl+C or
        SIGTERM stops it.

          --port N             the port on 127.0.0.1; 0 or omitted: a free port (printed)
          --issuer URL         the tokens' iss; default http://127.0.0.1:N
          --audience A         the default audience of minted tokens (repeatable); default my-api

        Tokens (loopback only), as text:
          curl 'http://127.0.0.1:N/token?namespace=my-namespace&serviceAccount=my-service-account'
          query: namespace, serviceAccount (default 'default'), pod, node, audience (repeatable),
                 lifetime (seconds or hh:mm:ss; default 1 h), expired=true, notYetValid=true
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var port = 0;
        string? issuerUrl = null;
        var audiences = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            string? Value() => i + 1 < args.Length ? args[++i] : null;
            switch (args[i])
            {
                case "-h" or "--help":
                    await output.WriteLineAsync(Usage).ConfigureAwait(false);
                    return InspectCommand.Accepted;
                case "--port":
                    if (!int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > IPEndPoint.MaxPort)
                    {
                        return await FailUsageAsync(error, "--port needs a number from 0 to 65535").ConfigureAwait(false);
                    }

                    break;
                case "--issuer":
                    issuerUrl = Value();
                    if (issuerUrl is null || !Uri.TryCreate(issuerUrl, UriKind.Absolute, out _))
                    {
                        return await FailUsageAsync(error, "--issuer needs an absolute URL").ConfigureAwait(false);
                    }

                    break;
                case "--audience":
                    var audience = Value();
                    if (string.IsNullOrWhiteSpace(audience))
                    {
                        return await FailUsageAsync(error, "--audience needs a value").ConfigureAwait(false);
                    }

                    audiences.Add(audience);
                    break;
                default:
                    return await FailUsageAsync(error, $"unknown option '{args[i]}'").ConfigureAwait(false);
            }
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();

        // Loopback only: whoever can reach /token can mint a token this issuer signs.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        await using var app = builder.Build();
        KubernetesTestIssuer? issuer = null;
        HttpMessageInvoker? serve = null;
        app.Run(async context =>
        {
            if (context.Connection.RemoteIpAddress is { } remote && !IPAddress.IsLoopback(remote))
            {
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                return;
            }

            var current = Volatile.Read(ref issuer);
            if (current is null || serve is null)
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                return;
            }

            if (context.Request.Path == TokenPath)
            {
                await MintAsync(current, context).ConfigureAwait(false);
                return;
            }

            // Discovery and JWKS exactly as the test kit serves them (content types, 406 to a wrong Accept).
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(current.BaseAddress, context.Request.Path.Value!.TrimStart('/')));
            request.Headers.TryAddWithoutValidation("Accept", context.Request.Headers.Accept.ToString());
            using var response = await serve.SendAsync(request, context.RequestAborted).ConfigureAwait(false);
            context.Response.StatusCode = (int)response.StatusCode;
            context.Response.ContentType = response.Content.Headers.ContentType?.MediaType;
            await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        });

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            await error.WriteLineAsync($"kubesa dev-issuer: cannot listen on 127.0.0.1:{port}: {ex.Message}").ConfigureAwait(false);
            return InspectCommand.Refused;
        }

        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/");
        var baseUrl = address.GetLeftPart(UriPartial.Authority);
        var created = new KubernetesTestIssuer(issuerUrl ?? baseUrl)
        {
            // The issuer serves in-process; its discovery document names the address it is reached at.
            PublishedJwksUri = baseUrl + KubernetesServiceAccountDefaults.JwksPath,
        };
        if (audiences.Count > 0)
        {
            created.DefaultAudiences.Clear();
            foreach (var audience in audiences)
            {
                created.DefaultAudiences.Add(audience);
            }
        }

        serve = new HttpMessageInvoker(created.CreateHandler());
        Volatile.Write(ref issuer, created);
        try
        {
            await output.WriteAsync(Banner(created, baseUrl)).ConfigureAwait(false);
            await output.FlushAsync(cancellationToken).ConfigureAwait(false);

            // The host's console lifetime ends this on Ctrl+C (SIGINT) and SIGTERM.
            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            await output.WriteLineAsync("kubesa dev-issuer: stopped").ConfigureAwait(false);
            return InspectCommand.Accepted;
        }
        finally
        {
            serve.Dispose();
        }
    }

    /// <summary>What to paste into the app: appsettings JSON and environment variables, and how to get a token.</summary>
    internal static string Banner(KubernetesTestIssuer issuer, string baseUrl)
    {
        const string Section = "Authentication__Schemes__" + KubernetesServiceAccountDefaults.AuthenticationScheme + "__";
        var metadata = baseUrl + KubernetesServiceAccountDefaults.DiscoveryPath;
        var audiences = issuer.DefaultAudiences.ToArray();
        var settings = new JsonObject
        {
            ["Issuer"] = issuer.Issuer,
            ["MetadataAddress"] = metadata,
            ["RequireHttpsMetadata"] = false,
            ["Audiences"] = new JsonArray([.. audiences.Select(a => (JsonNode)JsonValue.Create(a))]),
        };
        var appsettings = new JsonObject
        {
            ["Authentication"] = new JsonObject { ["Schemes"] = new JsonObject { [KubernetesServiceAccountDefaults.AuthenticationScheme] = settings } },
        };
        var w = new StringWriter(CultureInfo.InvariantCulture);
        w.WriteLine($"kubesa dev-issuer: a stand-in cluster issuer for trying an app by hand (Ctrl+C stops it)");
        w.WriteLine($"  issuer     {issuer.Issuer}");
        w.WriteLine($"  discovery  {metadata}");
        w.WriteLine($"  JWKS       {baseUrl}{KubernetesServiceAccountDefaults.JwksPath}");
        w.WriteLine();
        w.WriteLine("appsettings.json:");
        w.WriteLine(appsettings.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        w.WriteLine();
        w.WriteLine("or environment variables:");
        w.WriteLine($"  {Section}Issuer={issuer.Issuer}");
        w.WriteLine($"  {Section}MetadataAddress={metadata}");
        w.WriteLine($"  {Section}RequireHttpsMetadata=false");
        for (var i = 0; i < audiences.Length; i++)
        {
            w.WriteLine($"  {Section}Audiences__{i}={audiences[i]}");
        }

        w.WriteLine();
        w.WriteLine("A token (any namespace, service account, pod, audience; lifetime=600, expired=true):");
        w.WriteLine($"  curl '{baseUrl}{TokenPath}?namespace=my-namespace&serviceAccount=my-service-account&pod=my-pod'");
        w.WriteLine($"  curl -H \"Authorization: Bearer $(curl -s '{baseUrl}{TokenPath}?namespace=my-namespace')\" http://localhost:5000/whoami");
        w.WriteLine();
        w.WriteLine($"Listening on {baseUrl}");
        return w.ToString();
    }

    private static async Task MintAsync(KubernetesTestIssuer issuer, HttpContext context)
    {
        var query = context.Request.Query;
        string? One(string name) => query[name] is { Count: > 0 } values && !string.IsNullOrWhiteSpace(values[0]) ? values[0] : null;
        bool Flag(string name) => One(name) is { } value && (value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase));

        var builder = issuer.CreateToken(One("namespace") ?? "default", One("serviceAccount") ?? "default");
        if (One("pod") is { } pod)
        {
            builder.WithPod(pod);
        }

        if (One("node") is { } node)
        {
            builder.WithNode(node);
        }

        var audiences = query["audience"].Where(a => !string.IsNullOrWhiteSpace(a)).Select(a => a!).ToArray();
        if (audiences.Length > 0)
        {
            builder.WithAudience(audiences);
        }

        if (One("lifetime") is { } lifetimeText)
        {
            TimeSpan lifetime;
            if (long.TryParse(lifetimeText, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds is > 0 and <= 10 * 365 * 24 * 3600)
            {
                lifetime = TimeSpan.FromSeconds(seconds);
            }
            else if (!TimeSpan.TryParse(lifetimeText, CultureInfo.InvariantCulture, out lifetime) || lifetime <= TimeSpan.Zero)
            {
                await BadRequestAsync(context, "lifetime must be a positive number of seconds or hh:mm:ss").ConfigureAwait(false);
                return;
            }

            builder.WithLifetime(lifetime);
        }

        if (Flag("expired"))
        {
            builder.Expired();
        }
        else if (Flag("notYetValid"))
        {
            builder.NotYetValid();
        }

        string token;
        try
        {
            token = builder.Build();
        }
        catch (ArgumentException ex)
        {
            await BadRequestAsync(context, ex.Message).ConfigureAwait(false);
            return;
        }

        context.Response.ContentType = "text/plain";
        await context.Response.WriteAsync(token + "\n", context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task BadRequestAsync(HttpContext context, string message)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        context.Response.ContentType = "text/plain";
        await context.Response.WriteAsync(message + "\n", context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task<int> FailUsageAsync(TextWriter error, string message)
    {
        await error.WriteLineAsync($"kubesa dev-issuer: {message.TrimEnd('.')}.\n\n{Usage}").ConfigureAwait(false);
        return InspectCommand.UsageError;
    }
}
