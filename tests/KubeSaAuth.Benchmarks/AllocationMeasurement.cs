// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Benchmarks;

/// <summary>
/// Bytes allocated by the handler alone per request with a cached token: the handler is created and
/// initialized outside the measured span (as the handler provider does), and only
/// <c>AuthenticateAsync</c> — header, cache, principal, ticket — is counted, with
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/> over many requests.
/// </summary>
internal static class AllocationMeasurement
{
    private const int Requests = 20_000;

    public static async Task RunAsync()
    {
        await using var env = await BenchmarkEnvironment.CreateAsync();
        var authorization = "Bearer " + env.CreateToken();
        var context = env.CreateContext(authorization);
        for (var i = 0; i < 2; i++)
        {
            await env.RequestAsync(BenchmarkEnvironment.KubeScheme, authorization, env.KubePolicy);
        }

        var kube = await MeasureAsync(() => env.AuthenticateWithKubeHandlerAsync(context));
        var jwt = await MeasureAsync(() => env.AuthenticateWithJwtHandlerAsync(context));
        var kubeAuthenticateOnly = await MeasureAuthenticateOnlyAsync(env, context);
        Console.WriteLine();
        Console.WriteLine("Bytes allocated per request, handler only (GC.GetAllocatedBytesForCurrentThread, " + Requests + " requests):");
        Console.WriteLine($"  KubeSaAuth, cached token, create + initialize + authenticate: {kube:0} B");
        Console.WriteLine($"  KubeSaAuth, cached token, authenticate only:                  {kubeAuthenticateOnly:0} B");
        Console.WriteLine($"  JwtBearer, same token, create + initialize + authenticate:   {jwt:0} B");
        Console.WriteLine();
    }

    private static async Task<double> MeasureAsync(Func<Task<Microsoft.AspNetCore.Authentication.AuthenticateResult>> request)
    {
        for (var i = 0; i < 1000; i++)
        {
            await request();
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Requests; i++)
        {
            var result = await request();
            if (!result.Succeeded)
            {
                throw new InvalidOperationException("A cached request failed.");
            }
        }

        return (GC.GetAllocatedBytesForCurrentThread() - before) / (double)Requests;
    }

    private static async Task<double> MeasureAuthenticateOnlyAsync(BenchmarkEnvironment env, Microsoft.AspNetCore.Http.HttpContext context)
    {
        var handlers = new Microsoft.AspNetCore.Authentication.IAuthenticationHandler[Requests];
        for (var i = 0; i < Requests; i++)
        {
            handlers[i] = await env.CreateInitializedKubeHandlerAsync(context);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Requests; i++)
        {
            await handlers[i].AuthenticateAsync();
        }

        return (GC.GetAllocatedBytesForCurrentThread() - before) / (double)Requests;
    }
}
