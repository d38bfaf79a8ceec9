// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Tokens;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Benchmarks;

/// <summary>Where the time of a first-seen token goes (thread CPU time, median of rounds): the layers of both stacks.</summary>
internal static class MissPathProfile
{
    public static async Task RunAsync()
    {
        await using var env = await BenchmarkEnvironment.CreateAsync();
        var token = env.CreateToken();
        var header = "Bearer " + token;
        var runtime = env.Services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(BenchmarkEnvironment.KubeNoCacheScheme).Runtime!;
        var validator = runtime.Validator;
        var verifier = runtime.Keys.Current!.Keys[0].GetVerifier(SecurityAlgorithms.RsaSha256);
        var dot = token.LastIndexOf('.');
        var input = System.Text.Encoding.ASCII.GetBytes(token[..dot]);
        var signature = Base64UrlEncoder.DecodeBytes(token[(dot + 1)..]);
        var headerJson = Base64UrlEncoder.DecodeBytes(token[..token.IndexOf('.')]);
        var payloadJson = Base64UrlEncoder.DecodeBytes(token[(token.IndexOf('.') + 1)..dot]);
        var jwk = new JsonWebKeySet(env.Issuer.GetJwks()).Keys[0];
        var rsa = System.Security.Cryptography.RSA.Create(new System.Security.Cryptography.RSAParameters { Modulus = Base64UrlEncoder.DecodeBytes(jwk.N), Exponent = Base64UrlEncoder.DecodeBytes(jwk.E) });
        var jwtHandler = new JsonWebTokenHandler();
        var parameters = new TokenValidationParameters
        {
            ValidIssuer = env.Issuer.Issuer,
            ValidAudiences = env.Issuer.DefaultAudiences,
            IssuerSigningKeys = new JsonWebKeySet(env.Issuer.GetJwks()).GetSigningKeys(),
            ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
        };
        var context = env.CreateContext(header);
        var steps = new (string Name, Func<Task> Run)[]
        {
            ("RS256 verify alone", () => Task.FromResult(verifier.Verify(input, 0, input.Length, signature, 0, signature.Length))),
            ("RS256 via RSA.VerifyData directly (BCL, no IdentityModel)", () => Task.FromResult(rsa.VerifyData(input, signature, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1))),
            ("KubeSaAuth: parse only (shape, header, payload JSON)", () => Task.FromResult(validator.Parse(token, out _))),
            ("  of which: base64url-decode header + payload", () => Task.FromResult(Base64UrlEncoder.DecodeBytes(token[..token.IndexOf('.')]).Length + Base64UrlEncoder.DecodeBytes(token[(token.IndexOf('.') + 1)..dot]).Length)),
            ("  of which: JSON payload (strict Utf8JsonReader pass)", () => Task.FromResult(JwtDocumentReader.ReadPayload(payloadJson))),
            ("  of which: JSON header (strict Utf8JsonReader pass)", () => Task.FromResult(JwtDocumentReader.ReadHeader(headerJson))),
            ("KubeSaAuth: validator (parse, rules, verify)", () => validator.ValidateAsync(token, CancellationToken.None).AsTask()),
            ("JsonWebTokenHandler.ValidateTokenAsync (JwtBearer's core)", () => jwtHandler.ValidateTokenAsync(token, parameters)),
            ("KubeSaAuth: handler only, cache off", () => env.AuthenticateWithHandlerAsync(BenchmarkEnvironment.KubeNoCacheScheme, context)),
            ("JwtBearer: handler only", () => env.AuthenticateWithJwtHandlerAsync(context)),
            ("KubeSaAuth: request (authenticate + policy), cache off", () => env.RequestAsync(BenchmarkEnvironment.KubeNoCacheScheme, header, env.KubePolicy)),
            ("JwtBearer: request (authenticate + policy)", () => env.RequestAsync(BenchmarkEnvironment.JwtScheme, header, env.JwtPolicy)),
        };

        await MeasureAsync(steps, rounds: 31, batch: 40);
    }

    /// <summary>Warms every step up, then prints the median thread CPU time per call of each, over <paramref name="rounds"/> batches.</summary>
    internal static async Task MeasureAsync((string Name, Func<Task> Run)[] steps, int rounds, int batch)
    {
        for (var pass = 0; pass < 6; pass++)
        {
            foreach (var (_, run) in steps)
            {
                for (var i = 0; i < 300; i++)
                {
                    await run();
                }
            }

            // Tiered compilation promotes hot methods in the background, after a quiet period: give it one.
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        Console.WriteLine("| Layer | Median CPU time |");
        Console.WriteLine("|---|---:|");
        foreach (var (name, run) in steps)
        {
            var times = new double[rounds];
            for (var r = 0; r < times.Length; r++)
            {
                var start = ThreadCpuClock.NowNanoseconds();
                for (var i = 0; i < batch; i++)
                {
                    await run();
                }

                times[r] = (ThreadCpuClock.NowNanoseconds() - start) / batch;
            }

            Array.Sort(times);
            Console.WriteLine(times[times.Length / 2] >= 1_000
                ? $"| {name} | {times[times.Length / 2] / 1000:0.00} µs |"
                : $"| {name} | {times[times.Length / 2]:0} ns |");
        }
    }
}
