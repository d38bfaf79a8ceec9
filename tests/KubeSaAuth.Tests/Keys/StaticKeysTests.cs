// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using KubeSaAuth.Keys;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Tests.Keys;

/// <summary>
/// Issue 12 §4: static keys, no network. <c>JwksPath</c> (a JWKS or PEM public keys, re-read every
/// <c>RefreshInterval</c>) and <c>SigningKeys</c> in code. A <see cref="FakeApiServer"/> stands by in every
/// test to prove that nothing is fetched: it must receive no request at all.
/// </summary>
public sealed class StaticKeysTests : IDisposable
{
    private static readonly TimeSpan RefreshInterval = new KubernetesServiceAccountOptions().RefreshInterval;
    private readonly string _directory = Directory.CreateTempSubdirectory("kubesa-keys-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task JwksPath_with_a_JWKS_accepts_tokens_of_its_keys_and_fetches_nothing()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        var path = Write("jwks.json", api.Issuer.GetJwks());
        await using var host = await StartAsync(time, api, path);

        var outcome = await host.SendAsync(api.Issuer.CreateToken("team-a").Build());

        Assert.Equal(HttpStatusCode.OK, outcome.Status);
        Assert.Equal("team-a", outcome.Body);
        Assert.Equal(0, api.TotalRequests);
    }

    [Theory]
    [InlineData(SecurityAlgorithms.RsaSha256, false)]
    [InlineData(SecurityAlgorithms.RsaSha256, true)]
    [InlineData(SecurityAlgorithms.EcdsaSha256, false)]
    [InlineData(SecurityAlgorithms.EcdsaSha384, false)]
    [InlineData(SecurityAlgorithms.EcdsaSha512, false)]
    public async Task JwksPath_with_PEM_public_keys_accepts_tokens_whose_kid_Kubernetes_derived(string algorithm, bool pkcs1)
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        var key = TestSigningKey.Create(algorithm);
        var other = TestSigningKey.Create(SecurityAlgorithms.RsaSha256);
        var path = Write("sa.pub", Pem(other) + "\n" + Pem(key, pkcs1));
        await using var host = await StartAsync(time, api, path);

        var accepted = await host.SendAsync(api.Issuer.CreateToken().SignedWith(key).Build());
        var foreign = await host.SendAsync(api.Issuer.CreateToken().SignedWith(TestSigningKey.Create(algorithm)).Build());

        Assert.Equal(HttpStatusCode.OK, accepted.Status);
        Assert.Equal(KubernetesTokenFailureReason.UnknownKey, foreign.Reason);
        Assert.Equal(0, api.TotalRequests);
    }

    [Fact]
    public void PEM_keys_get_the_kid_Kubernetes_gives_them()
    {
        var keys = TokenVectors.Section("verbatim_k8s_unit_test_keys");
        var pem = keys["rsa_public_pem"]!.GetValue<string>() + keys["ec_p256_public_pem"]!.GetValue<string>();

        var parsed = KeyFileRetriever.Parse(System.Text.Encoding.UTF8.GetBytes(pem), "sa.pub");

        // The kids of kubernetes/kubernetes pkg/serviceaccount keyid_test.go and jwt_test.go.
        Assert.Equal([keys["rsa_kid"]!.GetValue<string>(), keys["ec_kid"]!.GetValue<string>()], parsed.Select(k => k.Kid));
        Assert.Equal([SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256], parsed.Select(k => k.Alg));
    }

    [Theory]
    [InlineData("bound_sa_only_rs256")]
    [InlineData("bound_pod_es256")]
    public async Task Tokens_signed_by_the_Kubernetes_test_keys_verify_with_their_PEM_public_keys(string vector)
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_700_000_100));
        using var api = new FakeApiServer(time);
        var keys = TokenVectors.Section("verbatim_k8s_unit_test_keys");
        var path = Write("sa.pub", keys["rsa_public_pem"]!.GetValue<string>() + keys["ec_p256_public_pem"]!.GetValue<string>());
        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            o.Issuer = "https://kubernetes.default.svc.cluster.local";
            o.Audiences.Add("https://kubernetes.default.svc.cluster.local");
            o.JwksPath = path;
        });

        var outcome = await host.SendAsync(TokenVectors.Token("derived_with_k8s_test_keys", vector));

        Assert.True(outcome.Status == HttpStatusCode.OK, outcome.Description);
        Assert.Equal(0, api.TotalRequests);
    }

    [Fact]
    public async Task Replaced_file_new_key_is_accepted_and_removed_key_refused_within_RefreshInterval()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        var old = api.Issuer.ActiveKey;
        var path = Write("jwks.json", Jwks(old));
        await using var host = await StartAsync(time, api, path);
        var oldToken = api.Issuer.CreateToken().SignedWith(old).Build();
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(oldToken)).Status);
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(oldToken)).Status); // now in the validation cache

        var next = TestSigningKey.Create();
        Replace(path, Jwks(next));
        time.Advance(RefreshInterval);
        await host.Keys.InflightFetch;

        // The old token first: its refusal comes from the periodic re-read alone, not from a new kid's.
        var oldOutcome = await host.SendAsync(oldToken);
        var newOutcome = await host.SendAsync(api.Issuer.CreateToken().SignedWith(next).Build());
        Assert.Equal(HttpStatusCode.OK, newOutcome.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, oldOutcome.Status);
        Assert.Equal(KubernetesTokenFailureReason.UnknownKey, oldOutcome.Reason);
        Assert.Equal(0, api.TotalRequests);
    }

    [Fact]
    public async Task A_key_added_to_the_file_is_accepted_within_RefreshInterval_and_not_before()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        var first = api.Issuer.ActiveKey;
        var path = Write("jwks.json", Jwks(first));
        await using var host = await StartAsync(time, api, path, o => o.RefreshInterval = TimeSpan.FromSeconds(2));
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(api.Issuer.CreateToken().Build())).Status);

        var added = TestSigningKey.Create(SecurityAlgorithms.EcdsaSha256);
        Replace(path, Jwks(first, added));
        var token = api.Issuer.CreateToken().SignedWith(added).Build();
        var tooSoon = await host.SendAsync(token);
        time.Advance(TimeSpan.FromSeconds(2));
        await host.Keys.InflightFetch;
        var later = await host.SendAsync(token);

        Assert.Equal(KubernetesTokenFailureReason.UnknownKey, tooSoon.Reason);
        Assert.Equal(HttpStatusCode.OK, later.Status);
        Assert.Equal(0, api.TotalRequests);
    }

    private const string DirectoryMarker = "(a directory)";

    public static TheoryData<string, string?, string> BadFiles() => new()
    {
        { "missing", null, "does not exist" },
        { "directory", DirectoryMarker, "it is a directory" },
        { "empty", string.Empty, "it is empty" },
        { "garbage", "not a key", "neither a JWKS" },
        { "discovery instead of JWKS", "{\"issuer\":\"https://kubernetes.default.svc.cluster.local\"}", "without a 'keys' array" },
        { "broken JSON", "{\"keys\":[", "not a valid JSON Web Key Set" },
        { "private key", TokenVectors.Section("verbatim_k8s_unit_test_keys")["rsa_private_pem"]!.GetValue<string>(), "is a private key" },
        { "certificate only", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "holds no PEM public key" },
        { "public key block of garbage", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "neither an RSA nor an EC public key" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public async Task An_unusable_file_makes_health_Unhealthy_with_the_reason_and_tokens_get_401(string name, string? content, string reason)
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        var path = content is null ? Path.Combine(_directory, "absent.json")
            : content == DirectoryMarker ? Directory.CreateDirectory(Path.Combine(_directory, "configmap")).FullName
            : Write("keys", content);
        await using var host = await StartAsync(time, api, path, health: true);

        var outcome = await host.SendAsync(api.Issuer.CreateToken().Build());
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HttpStatusCode.Unauthorized, outcome.Status);
        Assert.Equal(KubernetesTokenFailureReason.KeysUnavailable, outcome.Reason);
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        var description = report.Entries.Single().Value.Description!;
        Assert.True(description.Contains(reason, StringComparison.Ordinal) && description.Contains(path, StringComparison.Ordinal), $"{name}: {description}");
        Assert.Equal(0, api.TotalRequests);
    }

    [Fact]
    public async Task A_file_broken_mid_run_keeps_the_keys_read_before_and_is_Unhealthy_until_it_is_fixed()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        var path = Write("jwks.json", api.Issuer.GetJwks());
        await using var host = await StartAsync(time, api, path, health: true);
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var token = api.Issuer.CreateToken().Build();
        var before = await health.CheckHealthAsync();

        File.WriteAllText(path, "{\"keys\":[");
        time.Advance(RefreshInterval);
        await host.Keys.InflightFetch;
        var broken = await health.CheckHealthAsync();
        var duringOutcome = await host.SendAsync(token);

        File.WriteAllText(path, api.Issuer.GetJwks());
        time.Advance(RefreshInterval);
        await host.Keys.InflightFetch;
        var fixedReport = await health.CheckHealthAsync();

        Assert.Equal(HealthStatus.Healthy, before.Status);
        Assert.Equal(HealthStatus.Unhealthy, broken.Status);
        Assert.Contains("not a valid JSON Web Key Set", broken.Entries.Single().Value.Description, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, duringOutcome.Status);
        Assert.Equal(HealthStatus.Healthy, fixedReport.Status);
        Assert.Equal(0, api.TotalRequests);
    }

    [Fact]
    public async Task SigningKeys_in_code_verify_tokens_with_the_kid_Kubernetes_derives_and_fetch_nothing()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        var rsa = TestSigningKey.Create();
        var ec = TestSigningKey.Create(SecurityAlgorithms.EcdsaSha384);
        var jwk = TestSigningKey.Create();
        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            o.Issuer = api.Issuer.Issuer;
            o.Audiences.Add("my-api");

            // Public keys only, and without KeyId: the kid is derived as Kubernetes derives it.
            o.SigningKeys.Add(new RsaSecurityKey(((RsaSecurityKey)rsa.SecurityKey).Rsa.ExportParameters(false)));
            o.SigningKeys.Add(new ECDsaSecurityKey(ECDsa.Create(((ECDsaSecurityKey)ec.SecurityKey).ECDsa.ExportParameters(false))));
            o.SigningKeys.Add(new JsonWebKey(jwk.PublicJwk.ToJsonString()));
        });

        var outcomes = new[]
        {
            await host.SendAsync(api.Issuer.CreateToken().SignedWith(rsa).Build()),
            await host.SendAsync(api.Issuer.CreateToken().SignedWith(ec).Build()),
            await host.SendAsync(api.Issuer.CreateToken().SignedWith(jwk).Build()),
        };
        var unknown = await host.SendAsync(api.Issuer.CreateToken().SignedWithUnknownKey().Build());

        Assert.All(outcomes, o => Assert.Equal(HttpStatusCode.OK, o.Status));
        Assert.Equal(KubernetesTokenFailureReason.UnknownKey, unknown.Reason);
        Assert.Equal(0, api.TotalRequests);
    }

    [Fact]
    public async Task The_sample_API_reads_its_keys_from_a_JwksPath_given_in_configuration()
    {
        using var api = FakeApiServer.ForSampleApi();
        var path = Write("jwks.json", api.Issuer.GetJwks());
        await using var factory = api.CreateSampleApi(new Dictionary<string, string?>
        {
            ["JwksPath"] = path,
            ["MetadataAddress"] = string.Empty,
            ["JwksUri"] = string.Empty,
        });
        using var client = factory.CreateClient();

        using var response = await FakeApiServer.GetAsync(client, "/whoami", api.Issuer.CreateToken("team-a").Build());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("team-a", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, api.TotalRequests);
    }

    [Fact]
    public async Task SigningKeys_takes_an_X509SecurityKey_and_gives_it_the_kid_Kubernetes_derives_not_its_thumbprint()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        var key = TestSigningKey.Create();
        var rsa = ((RsaSecurityKey)key.SecurityKey).Rsa;
        var request = new CertificateRequest("CN=sa", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var publicOnly = X509CertificateLoader.LoadCertificate(certificate.Export(X509ContentType.Cert));
        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            o.Issuer = api.Issuer.Issuer;
            o.Audiences.Add("my-api");
            o.SigningKeys.Add(new X509SecurityKey(publicOnly));
        });

        var outcome = await host.SendAsync(api.Issuer.CreateToken().SignedWith(key).Build());

        Assert.Equal(HttpStatusCode.OK, outcome.Status);
        Assert.Equal(0, api.TotalRequests);
    }

    public static TheoryData<string, Action<KubernetesServiceAccountOptions>, string> InvalidStaticOptions => new()
    {
        { "JwksPath without Issuer", o => { o.Issuer = null; o.JwksPath = "/keys/jwks.json"; }, "The 'Issuer' option must be set with 'JwksPath'" },
        { "SigningKeys without Issuer", o => { o.Issuer = null; o.SigningKeys.Add(new RsaSecurityKey(RSA.Create())); }, "The 'Issuer' option must be set with 'SigningKeys'" },
        { "both", o => { o.JwksPath = "/keys/jwks.json"; o.SigningKeys.Add(new RsaSecurityKey(RSA.Create())); }, "exclude each other" },
        { "in-cluster", o => { o.JwksPath = "/keys/jwks.json"; o.InCluster = true; }, "The 'JwksPath' and 'InCluster' options exclude each other" },
        { "with a JWKS address", o => { o.JwksPath = "/keys/jwks.json"; o.JwksUri = "https://k8s.example/openid/v1/jwks"; }, "would never be fetched" },
        { "symmetric key", o => o.SigningKeys.Add(new SymmetricSecurityKey(new byte[32])), "a symmetric key" },
        { "octet JWK", o => o.SigningKeys.Add(new JsonWebKey("{\"kty\":\"oct\",\"k\":\"AAAA\"}")), "give an RsaSecurityKey" },
    };

    [Theory]
    [MemberData(nameof(InvalidStaticOptions))]
    public void Static_keys_options_that_cannot_work_are_refused_saying_what_to_set(string name, Action<KubernetesServiceAccountOptions> change, string message)
    {
        var options = new KubernetesServiceAccountOptions { Issuer = "https://kubernetes.default.svc.cluster.local" };
        options.Audiences.Add("my-api");
        change(options);

        var error = Assert.Throws<InvalidOperationException>(options.Validate);

        Assert.True(error.Message.Contains(message, StringComparison.Ordinal), $"{name}: {error.Message}");
    }

    [Fact]
    public void A_non_URL_issuer_is_fine_with_static_keys()
    {
        var options = new KubernetesServiceAccountOptions { Issuer = "my-cluster", JwksPath = "/keys/jwks.json" };
        options.Audiences.Add("my-api");

        options.Validate();
    }

    private static Task<KeysTestHost> StartAsync(FakeTimeProvider time, FakeApiServer api, string path, Action<KubernetesServiceAccountOptions>? configure = null, bool health = false) =>
        KeysTestHost.StartAsync(
            time,
            o =>
            {
                // The issuer is the stand-in API server's, but nothing points at its addresses.
                o.Issuer = api.Issuer.Issuer;
                o.Audiences.Add("my-api");
                o.JwksPath = path;
                configure?.Invoke(o);
            },
            services: health ? s => s.AddHealthChecks().AddKubernetesServiceAccountKeys() : null);

    private string Write(string name, string content)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    /// <summary>Replaces the file in one step, as <c>kubectl</c> writing a new file and a rename would.</summary>
    private static void Replace(string path, string content)
    {
        var staging = path + ".new";
        File.WriteAllText(staging, content);
        File.Move(staging, path, overwrite: true);
    }

    private static string Jwks(params TestSigningKey[] keys) =>
        new JsonObject { ["keys"] = new JsonArray([.. keys.Select(k => (JsonNode)k.PublicJwk.DeepClone())]) }.ToJsonString();

    private static string Pem(TestSigningKey key, bool pkcs1 = false) => key.SecurityKey switch
    {
        RsaSecurityKey rsa when pkcs1 => rsa.Rsa.ExportRSAPublicKeyPem(),
        RsaSecurityKey rsa => rsa.Rsa.ExportSubjectPublicKeyInfoPem(),
        ECDsaSecurityKey ec => ec.ECDsa.ExportSubjectPublicKeyInfoPem(),
        _ => throw new ArgumentException("RSA or EC only", nameof(key)),
    };
}
