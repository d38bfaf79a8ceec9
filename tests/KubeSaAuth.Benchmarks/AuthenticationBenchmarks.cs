// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Http;

namespace KubeSaAuth.Benchmarks;

/// <summary>
/// KubeSaAuth against plain JwtBearer (the baseline of each category), per request: authenticate and
/// authorize a namespace policy, with 2048-bit RS256 tokens of about 1 KB.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class AuthenticationBenchmarks
{
    // Unique-token scenarios cycle through this many distinct tokens (minting one costs an RSA signature).
    private const int PoolSize = 256;

    private BenchmarkEnvironment _env = null!;
    private string _repeated = null!;
    private string[] _unique = null!;
    private string _invalidSignature = null!;
    private string[] _unknownKid = null!;
    private string _legacy = null!;
    private HttpContext _kubeContext = null!;
    private HttpContext _jwtContext = null!;
    private int _next;
    private byte[] _signingInput = null!;
    private byte[] _signature = null!;
    private Microsoft.IdentityModel.Tokens.SignatureProvider _verifier = null!;

    [GlobalSetup]
    public void Setup()
    {
        // In process, every benchmark shares one environment: minting tokens and keys is slow, and a
        // fresh cache per benchmark would measure nothing more.
        var shared = Shared.Value;
        (_env, _repeated, _unique, _invalidSignature, _unknownKid, _legacy) = shared;
        var token = _repeated["Bearer ".Length..];
        var dot = token.LastIndexOf('.');
        _signingInput = System.Text.Encoding.ASCII.GetBytes(token[..dot]);
        _signature = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.DecodeBytes(token[(dot + 1)..]);
        _verifier = _env.KubeKeys.Current!.Keys[0].GetVerifier(Microsoft.IdentityModel.Tokens.SecurityAlgorithms.RsaSha256);
        if (!RsaVerifyAlone())
        {
            throw new InvalidOperationException("The reference verification failed.");
        }

        _kubeContext = _env.CreateContext(_repeated);
        _jwtContext = _env.CreateContext(_repeated);
        if (_env.AuthenticateWithKubeHandlerAsync(_kubeContext).GetAwaiter().GetResult().Succeeded is false
            || _env.AuthenticateWithJwtHandlerAsync(_jwtContext).GetAwaiter().GetResult().Succeeded is false)
        {
            throw new InvalidOperationException("Handler-only set-up failed.");
        }
    }

    private static readonly Lazy<(BenchmarkEnvironment Env, string Repeated, string[] Unique, string InvalidSignature, string[] UnknownKid, string Legacy)> Shared =
        new(CreateShared, LazyThreadSafetyMode.ExecutionAndPublication);

    private static (BenchmarkEnvironment, string, string[], string, string[], string) CreateShared()
    {
        var env = BenchmarkEnvironment.CreateAsync().GetAwaiter().GetResult();
        var repeated = "Bearer " + env.CreateToken();
        var unique = new string[PoolSize];
        Parallel.For(0, PoolSize, i => unique[i] = "Bearer " + env.CreateToken());
        var invalidSignature = "Bearer " + env.CreateInvalidSignatureToken();

        // Tokens signed by keys the issuer never published, each with its own kid: what a flood of
        // forged tokens looks like.
        var unknownKid = new string[8];
        Parallel.For(0, unknownKid.Length, i => unknownKid[i] = "Bearer " + env.CreateToken(TestSigningKey.Create()));
        var legacy = "Bearer " + env.CreateLegacyToken();

        // A token enters the cache on its second validation: present the cached ones twice now.
        for (var i = 0; i < 2; i++)
        {
            Check(env.RequestAsync(BenchmarkEnvironment.KubeScheme, repeated, env.KubePolicy), true);
            Check(env.RequestAsync(BenchmarkEnvironment.KubeScheme, legacy, env.KubePolicy), true);
        }

        Check(env.RequestAsync(BenchmarkEnvironment.JwtScheme, repeated, env.JwtPolicy), true);
        Check(env.RequestAsync(BenchmarkEnvironment.JwtLegacyScheme, legacy, env.JwtPolicy), true);
        Check(env.RequestAsync(BenchmarkEnvironment.KubeNoCacheScheme, unique[0], env.KubePolicy), true);
        Check(env.RequestAsync(BenchmarkEnvironment.JwtScheme, unique[0], env.JwtPolicy), true);
        Check(env.RequestAsync(BenchmarkEnvironment.KubeScheme, invalidSignature, env.KubePolicy), false);
        Check(env.RequestAsync(BenchmarkEnvironment.JwtScheme, invalidSignature, env.JwtPolicy), false);
        Check(env.RequestAsync(BenchmarkEnvironment.KubeScheme, unknownKid[0], env.KubePolicy), false);
        Check(env.RequestAsync(BenchmarkEnvironment.JwtScheme, unknownKid[0], env.JwtPolicy), false);
        return (env, repeated, unique, invalidSignature, unknownKid, legacy);
    }

    [BenchmarkCategory("Repeated token"), Benchmark(Baseline = true, Description = "JwtBearer")]
    public Task<bool> Repeated_JwtBearer() => _env.RequestAsync(BenchmarkEnvironment.JwtScheme, _repeated, _env.JwtPolicy);

    [BenchmarkCategory("Repeated token"), Benchmark(Description = "KubeSaAuth")]
    public Task<bool> Repeated_KubeSaAuth() => _env.RequestAsync(BenchmarkEnvironment.KubeScheme, _repeated, _env.KubePolicy);

    [BenchmarkCategory("Unique tokens"), Benchmark(Baseline = true, Description = "JwtBearer")]
    public Task<bool> Unique_JwtBearer() => _env.RequestAsync(BenchmarkEnvironment.JwtScheme, NextUnique(), _env.JwtPolicy);

    // The cache off: every token is validated in full, as a first-seen token is (the cache's miss
    // path adds one dictionary lookup and one doorkeeper slot write).
    [BenchmarkCategory("Unique tokens"), Benchmark(Description = "KubeSaAuth")]
    public Task<bool> Unique_KubeSaAuth() => _env.RequestAsync(BenchmarkEnvironment.KubeNoCacheScheme, NextUnique(), _env.KubePolicy);

    [BenchmarkCategory("Invalid signature"), Benchmark(Baseline = true, Description = "JwtBearer")]
    public Task<bool> InvalidSignature_JwtBearer() => _env.RequestAsync(BenchmarkEnvironment.JwtScheme, _invalidSignature, _env.JwtPolicy);

    [BenchmarkCategory("Invalid signature"), Benchmark(Description = "KubeSaAuth")]
    public Task<bool> InvalidSignature_KubeSaAuth() => _env.RequestAsync(BenchmarkEnvironment.KubeScheme, _invalidSignature, _env.KubePolicy);

    [BenchmarkCategory("Unknown-kid flood"), Benchmark(Baseline = true, Description = "JwtBearer")]
    public Task<bool> UnknownKid_JwtBearer() => _env.RequestAsync(BenchmarkEnvironment.JwtScheme, NextUnknownKid(), _env.JwtPolicy);

    [BenchmarkCategory("Unknown-kid flood"), Benchmark(Description = "KubeSaAuth")]
    public Task<bool> UnknownKid_KubeSaAuth() => _env.RequestAsync(BenchmarkEnvironment.KubeScheme, NextUnknownKid(), _env.KubePolicy);

    [BenchmarkCategory("Legacy token (repeated)"), Benchmark(Baseline = true, Description = "JwtBearer")]
    public Task<bool> Legacy_JwtBearer() => _env.RequestAsync(BenchmarkEnvironment.JwtLegacyScheme, _legacy, _env.JwtPolicy);

    [BenchmarkCategory("Legacy token (repeated)"), Benchmark(Description = "KubeSaAuth")]
    public Task<bool> Legacy_KubeSaAuth() => _env.RequestAsync(BenchmarkEnvironment.KubeScheme, _legacy, _env.KubePolicy);

    [BenchmarkCategory("Authenticate only, repeated token"), Benchmark(Baseline = true, Description = "JwtBearer")]
    public Task<bool> AuthenticateOnly_JwtBearer() => _env.AuthenticateOnlyAsync(BenchmarkEnvironment.JwtScheme, _repeated);

    [BenchmarkCategory("Authenticate only, repeated token"), Benchmark(Description = "KubeSaAuth")]
    public Task<bool> AuthenticateOnly_KubeSaAuth() => _env.AuthenticateOnlyAsync(BenchmarkEnvironment.KubeScheme, _repeated);

    [BenchmarkCategory("Handler only, repeated token"), Benchmark(Baseline = true, Description = "JwtBearer")]
    public Task HandlerOnly_JwtBearer() => _env.AuthenticateWithJwtHandlerAsync(_jwtContext);

    [BenchmarkCategory("Handler only, repeated token"), Benchmark(Description = "KubeSaAuth")]
    public Task HandlerOnly_KubeSaAuth() => _env.AuthenticateWithKubeHandlerAsync(_kubeContext);

    // The floor of a first-seen token: IdentityModel's RS256 verification of the same token's signature.
    [BenchmarkCategory("RSA verify alone"), Benchmark(Description = "RS256 verify (IdentityModel provider)")]
    public bool RsaVerifyAlone() => _verifier.Verify(_signingInput, 0, _signingInput.Length, _signature, 0, _signature.Length);

    [BenchmarkCategory("Harness floor"), Benchmark(Description = "scope + HttpContext, no authentication")]
    public Task<bool> HarnessFloor() => _env.EmptyRequestAsync(_repeated);

    private static void Check(Task<bool> request, bool expected)
    {
        if (request.GetAwaiter().GetResult() != expected)
        {
            throw new InvalidOperationException($"Set-up: a request expected to {(expected ? "succeed" : "fail")} did not.");
        }
    }

    private string NextUnique() => _unique[(uint)Interlocked.Increment(ref _next) % PoolSize];

    private string NextUnknownKid() => _unknownKid[(uint)Interlocked.Increment(ref _next) % (uint)_unknownKid.Length];
}
