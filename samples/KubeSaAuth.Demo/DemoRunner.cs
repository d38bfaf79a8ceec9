// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using KubeSaAuth.Sample.Api;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.Demo;

/// <summary>
/// Starts a stand-in cluster issuer (discovery + JWKS on loopback, real keys), hosts the sample API on
/// 127.0.0.1:0 configured only through configuration, calls it as Pods of several namespaces and with bad
/// tokens, rotates the signing key, and prints a transcript.
/// </summary>
public static class DemoRunner
{
    private const string Audience = "my-api";
    private const string Section = "Authentication:Schemes:" + KubernetesServiceAccountDefaults.AuthenticationScheme + ":";

    /// <summary>Runs the demo, writing a readable transcript to <paramref name="output"/>.</summary>
    /// <param name="output">Where the transcript goes.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    /// <returns>Every call and whether each returned what it should.</returns>
    public static async Task<DemoResult> RunAsync(TextWriter output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        await using var cluster = await KubernetesTestIssuer.StartAsync();
        cluster.DefaultAudiences.Clear();
        cluster.DefaultAudiences.Add(Audience);

        var settings = new Dictionary<string, string?>
        {
            [Section + "Issuer"] = cluster.Issuer,
            [Section + "MetadataAddress"] = cluster.MetadataAddress,
            [Section + "JwksUri"] = cluster.JwksUri,
            [Section + "Audiences:0"] = Audience,
            [Section + "RequireHttpsMetadata"] = "false",
            [Section + "RefreshInterval"] = "00:00:01",
            [Section + "AutomaticRefreshInterval"] = "00:05:00",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        await using var api = SampleApi.Create(["--urls", "http://127.0.0.1:0"], b =>
        {
            b.Configuration.AddInMemoryCollection(settings);
            b.Logging.ClearProviders();
        });
        await api.StartAsync(cancellationToken);
        var address = api.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var client = new HttpClient { BaseAddress = new Uri(address) };

        await output.WriteLineAsync($"Stand-in cluster: issuer {cluster.Issuer}, discovery and JWKS at {cluster.BaseAddress} (key {Short(cluster.ActiveKey.KeyId)})");
        await output.WriteLineAsync($"Sample API:       {address} (audience '{Audience}', configured only through configuration)");
        await output.WriteLineAsync();

        var calls = new List<DemoCall>();
        async Task Call(string caller, string path, string? token, HttpStatusCode expected)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            using var response = await client.SendAsync(request, cancellationToken);
            var detail = await DescribeAsync(response, cancellationToken);
            calls.Add(new DemoCall(caller, path, expected, response.StatusCode, detail));
        }

        // Pods of two namespaces, each with its projected token for our audience.
        var web = cluster.CreateToken("my-namespace", "my-service-account").WithPod("web-7d4b9c-x2k8p").WithNode("node-1").Build();
        var batch = cluster.CreateToken("my-namespace", "batch").WithPod("batch-28391-qq7zt").WithNode("node-2").Build();
        var billing = cluster.CreateToken("billing", "invoicer").WithPod("invoicer-5c8f-9hj2m").WithNode("node-1").Build();

        await Call("anonymous", "/healthz", null, HttpStatusCode.OK);
        await Call("anonymous", "/whoami", null, HttpStatusCode.Unauthorized);
        await Call("my-namespace/my-service-account", "/whoami", web, HttpStatusCode.OK);
        await Call("billing/invoicer", "/whoami", billing, HttpStatusCode.OK);
        await Call("my-namespace/my-service-account", "/reports", web, HttpStatusCode.OK);
        await Call("my-namespace/batch", "/reports", batch, HttpStatusCode.OK);
        await Call("billing/invoicer", "/reports", billing, HttpStatusCode.Forbidden);
        await Call("my-namespace/my-service-account", "/admin", web, HttpStatusCode.OK);
        await Call("my-namespace/batch", "/admin", batch, HttpStatusCode.Forbidden);

        // Tokens the API must refuse, each with its reason.
        await Call("legacy secret token", "/whoami", cluster.CreateToken("my-namespace", "my-service-account").Legacy().Build(), HttpStatusCode.Unauthorized);
        await Call("expired token", "/whoami", cluster.CreateToken("my-namespace", "my-service-account").Expired().Build(), HttpStatusCode.Unauthorized);
        await Call("tampered token (sub→kube-system:admin)", "/admin", cluster.CreateToken("my-namespace", "my-service-account").Tampered().Build(), HttpStatusCode.Unauthorized);
        await Call("token for another audience", "/whoami", cluster.CreateToken("my-namespace", "my-service-account").WithAudience("vault").Build(), HttpStatusCode.Unauthorized);
        await using (var otherCluster = new KubernetesTestIssuer("https://oidc.other-cluster.example"))
        {
            await Call("pod of another cluster", "/whoami", otherCluster.CreateToken("my-namespace", "my-service-account").Build(), HttpStatusCode.Unauthorized);
        }

        // Key rotation: the cluster publishes a new key and signs with it; the API fetches the JWKS once more.
        var fetchesBefore = cluster.JwksRequests;
        var rotated = cluster.AddKey();

        // An unknown kid refreshes the keys at most once per RefreshInterval (1 s here, 10 s by default).
        await Task.Delay(TimeSpan.FromSeconds(1.2), cancellationToken);
        await Call($"rotated key {Short(rotated.KeyId)}", "/reports", cluster.CreateToken("my-namespace", "my-service-account").Build(), HttpStatusCode.OK);
        await Call("old key, still published", "/reports", web, HttpStatusCode.OK);
        var fetchesForRotation = cluster.JwksRequests - fetchesBefore;
        calls.Add(new DemoCall("JWKS fetches for the rotation", "(issuer)", HttpStatusCode.OK, fetchesForRotation == 1 ? HttpStatusCode.OK : HttpStatusCode.InternalServerError,
            $"{fetchesForRotation} (expected exactly 1)"));

        await api.StopAsync(cancellationToken);
        var result = new DemoResult(calls);
        await PrintAsync(output, result);
        return result;
    }

    private static async Task<string> DescribeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            var challenge = response.Headers.WwwAuthenticate.ToString();
            const string marker = "error_description=\"";
            var at = challenge.IndexOf(marker, StringComparison.Ordinal);
            return at < 0 ? $"WWW-Authenticate: {challenge}" : challenge[(at + marker.Length)..].TrimEnd('"');
        }

        if (response.StatusCode == HttpStatusCode.Forbidden)
        {
            return "authenticated, but the endpoint's policy is not met";
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.Content.Headers.ContentType?.MediaType == "application/json")
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            if (root.TryGetProperty("username", out var username))
            {
                var pod = root.TryGetProperty("podName", out var p) && p.ValueKind == JsonValueKind.String ? $" pod {p.GetString()}" : string.Empty;
                return $"{username.GetString()}{pod}";
            }

            if (root.TryGetProperty("requestedBy", out var requestedBy))
            {
                return $"reports for {requestedBy.GetString()}";
            }

            if (root.TryGetProperty("admin", out _))
            {
                return "admin area";
            }
        }

        return body.Length > 60 ? body[..60] : body;
    }

    private static async Task PrintAsync(TextWriter output, DemoResult result)
    {
        var callerWidth = Math.Max("caller".Length, result.Calls.Max(c => c.Caller.Length));
        var endpointWidth = Math.Max("endpoint".Length, result.Calls.Max(c => c.Endpoint.Length));
        await output.WriteLineAsync($"   {"caller".PadRight(callerWidth)}  {"endpoint".PadRight(endpointWidth)}  status  reason / answer");
        await output.WriteLineAsync($"   {new string('-', callerWidth)}  {new string('-', endpointWidth)}  ------  ---------------");
        foreach (var call in result.Calls)
        {
            var mark = call.Passed ? "ok" : "!!";
            var status = ((int)call.Actual).ToString(CultureInfo.InvariantCulture);
            var expected = call.Passed ? string.Empty : $" (expected {(int)call.Expected})";
            await output.WriteLineAsync($"{mark} {call.Caller.PadRight(callerWidth)}  {call.Endpoint.PadRight(endpointWidth)}  {status,-6}  {call.Detail}{expected}");
        }

        await output.WriteLineAsync();
        var failed = result.Calls.Count(c => !c.Passed);
        await output.WriteLineAsync(failed == 0
            ? $"All {result.Calls.Count} calls returned what they should."
            : $"{failed} of {result.Calls.Count} calls did NOT return what they should.");
    }

    private static string Short(string keyId) => keyId.Length <= 8 ? keyId : keyId[..8] + "…";
}
