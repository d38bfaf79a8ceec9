// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Sample.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// The calling side of the sample: a worker in another Pod that calls the sample API with a projected
// service-account token (audience my-api), which the kubelet rotates under it. Everything comes from
// configuration (SampleApi__BaseAddress, SampleApi__TokenPath, SampleApi__Interval).
var builder = Host.CreateApplicationBuilder(args);

var settings = builder.Configuration.GetSection("SampleApi");
builder.Services.AddHttpClient(WhoAmIWorker.ClientName, client =>
    {
        client.BaseAddress = new Uri(settings["BaseAddress"] ?? "http://kubesaauth-sample-api");
        client.Timeout = TimeSpan.FromSeconds(10);
    })
    // Reads the projected token file, re-reads it when the kubelet rotates it, retries once on a 401.
    .AddKubernetesServiceAccountToken(settings["TokenPath"] ?? "/var/run/secrets/tokens/my-api");

builder.Services.AddHostedService<WhoAmIWorker>();

await builder.Build().RunAsync();
