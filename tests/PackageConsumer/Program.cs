// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

// A user's API, written against the packages only: AddKubernetesServiceAccount() configured from
// configuration, a "namespace:x" policy with no other code. It then calls itself with tokens from the
// KubeSaAuth.Testing package and exits 0 only if 200 / 403 / 401 come back where they should.
using System.Net;
using System.Net.Http.Headers;
using KubeSaAuth;
using KubeSaAuth.Testing;

var issuer = new KubernetesTestIssuer();

var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.UseUrls("http://127.0.0.1:0");
builder.Configuration["Authentication:Schemes:KubernetesServiceAccount:Audiences:0"] = "my-api";

builder.Services.AddAuthentication(KubernetesServiceAccountDefaults.AuthenticationScheme).AddKubernetesServiceAccount();
builder.Services.AddAuthorization();
builder.Services.AddKubernetesTestIssuer(issuer);

var app = builder.Build();
app.UseAuthentication();
app.UseAuthorization();
app.MapGet("/x", () => "ok").RequireAuthorization("namespace:x");

await app.StartAsync();
using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };

async Task<HttpStatusCode> CallAsync(string? token)
{
    using var request = new HttpRequestMessage(HttpMethod.Get, "/x");
    if (token is not null)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    using var response = await client.SendAsync(request);
    return response.StatusCode;
}

var checks = new (string Name, string? Token, HttpStatusCode Expected)[]
{
    ("caller in namespace x", issuer.CreateToken("x", "worker").Build(), HttpStatusCode.OK),
    ("caller in namespace y", issuer.CreateToken("y", "worker").Build(), HttpStatusCode.Forbidden),
    ("tampered token", issuer.CreateToken("x", "worker").Tampered().Build(), HttpStatusCode.Unauthorized),
    ("no token", null, HttpStatusCode.Unauthorized),
};

var failed = 0;
foreach (var (name, token, expected) in checks)
{
    var actual = await CallAsync(token);
    Console.WriteLine($"{(actual == expected ? "ok  " : "FAIL")} {name}: {(int)actual} (expected {(int)expected})");
    failed += actual == expected ? 0 : 1;
}

await app.StopAsync();

// WebApplicationFactory comes with KubeSaAuth.Testing (docs/testing.md): this project references no Microsoft.AspNetCore.Mvc.Testing.
Console.WriteLine($"WebApplicationFactory from {typeof(Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<>).Assembly.GetName().Name}, through KubeSaAuth.Testing");
Console.WriteLine($"package consumer (KubeSaAuth {typeof(KubernetesServiceAccountOptions).Assembly.GetName().Version}): {(failed == 0 ? "passed" : $"{failed} check(s) failed")}");
return failed == 0 ? 0 : 1;
