// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using KubeSaAuth.Keys;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Settings;

namespace KubeSaAuth.Tests.Keys;

/// <summary>
/// Issue 20 §8: an RSA key under 2048 bits (RFC 7518 §3.3) is skipped wherever keys come from (a JWKS served
/// over HTTP, a key file, keys given in code), with a Warning naming its kid and size and a health check that
/// says so; a token naming it is refused with <see cref="KubernetesTokenFailureReason.WeakKey"/>. 2048 bits is accepted.
/// </summary>
public sealed class WeakKeyTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kubesa-weak-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(512)]
    [InlineData(1024)]
    public async Task An_RSA_key_under_2048_bits_in_a_JWKS_served_over_HTTP_verifies_no_token(int bits)
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        using var weak = RsaKey.Create(bits);
        using var strong = RsaKey.Create(2048);
        using var server = ServeJwks(weak.Jwk, strong.Jwk);
        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            o.Issuer = api.Issuer.Issuer;
            o.JwksUri = server.Url + "/openid/v1/jwks";
            o.RequireHttpsMetadata = false;
            o.Audiences.Add("my-api");
        }, services: Diagnostics);
        var payload = Payload(api);

        var refused = await host.SendAsync(weak.Sign(payload));
        var accepted = await host.SendAsync(strong.Sign(payload));

        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.Equal(KubernetesTokenFailureReason.WeakKey, refused.Reason);
        Assert.Contains($"{bits} bits", refused.Description, StringComparison.Ordinal);
        Assert.Contains(weak.KeyId, refused.Challenge, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, accepted.Status);
        var log = Assert.Single(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "WeakKeyRefused");
        Assert.Equal(LogLevel.Warning, log.Level);
        Assert.Contains(weak.KeyId, log.Message, StringComparison.Ordinal);
        Assert.Equal(bits.ToString(System.Globalization.CultureInfo.InvariantCulture), log.GetStructuredStateValue("KeySize"));
    }

    [Fact]
    public async Task The_keys_health_check_names_the_weak_key_and_its_size()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        using var weak = RsaKey.Create(1024);
        using var strong = RsaKey.Create(2048);
        using var server = ServeJwks(weak.Jwk, strong.Jwk);
        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            o.Issuer = api.Issuer.Issuer;
            o.JwksUri = server.Url + "/openid/v1/jwks";
            o.RequireHttpsMetadata = false;
            o.Audiences.Add("my-api");
        }, services: Diagnostics);

        var entry = (await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries.Single().Value;

        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.Equal(1, entry.Data["keys"]);
        Assert.Contains($"kid '{weak.KeyId}' (RSA 1024 bits)", entry.Description, StringComparison.Ordinal);
        Assert.Contains("RFC 7518", entry.Description, StringComparison.Ordinal);
        Assert.Contains(weak.KeyId, (string)entry.Data["weakKeys"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_source_with_only_weak_keys_is_Unhealthy_and_says_why()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        using var weak = RsaKey.Create(1024);
        var path = Write("jwks.json", Jwks(weak.Jwk));
        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            o.Issuer = api.Issuer.Issuer;
            o.JwksPath = path;
            o.Audiences.Add("my-api");
        }, services: Diagnostics);

        var refused = await host.SendAsync(weak.Sign(Payload(api)));
        var entry = (await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries.Single().Value;

        Assert.Equal(KubernetesTokenFailureReason.WeakKey, refused.Reason);
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains($"kid '{weak.KeyId}' (RSA 1024 bits)", entry.Description, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(512, false)]
    [InlineData(1024, false)]
    [InlineData(1024, true)]
    public async Task An_RSA_key_under_2048_bits_in_a_key_file_verifies_no_token(int bits, bool pem)
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        using var weak = RsaKey.Create(bits);
        var path = pem
            ? Write("sa.pub", weak.Rsa.ExportSubjectPublicKeyInfoPem())
            : Write("jwks.json", Jwks(weak.Jwk));
        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            o.Issuer = api.Issuer.Issuer;
            o.JwksPath = path;
            o.Audiences.Add("my-api");
        }, services: Diagnostics);

        var refused = await host.SendAsync(weak.Sign(Payload(api)));

        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.Equal(KubernetesTokenFailureReason.WeakKey, refused.Reason);
        Assert.Contains(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "WeakKeyRefused" && r.Message.Contains(weak.KeyId, StringComparison.Ordinal));
        Assert.Equal(0, api.TotalRequests);
    }

    [Theory]
    [InlineData(512, 401)]
    [InlineData(1024, 401)]
    [InlineData(2048, 200)]
    public async Task SigningKeys_in_code_under_2048_bits_verify_no_token_and_2048_bits_do(int bits, int status)
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        using var key = RsaKey.Create(bits);
        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            o.Issuer = api.Issuer.Issuer;
            o.Audiences.Add("my-api");
            o.SigningKeys.Add(new RsaSecurityKey(key.Rsa.ExportParameters(false)) { KeyId = key.KeyId });
        }, services: Diagnostics);

        var outcome = await host.SendAsync(key.Sign(Payload(api)));

        Assert.Equal((HttpStatusCode)status, outcome.Status);
        Assert.Equal(status == 200 ? null : KubernetesTokenFailureReason.WeakKey, outcome.Reason);
    }

    [Fact]
    public async Task An_RSA_key_under_2048_bits_from_a_ConfigurationManager_verifies_no_token()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        using var weak = RsaKey.Create(1024);
        using var strong = RsaKey.Create(2048);
        var configuration = new OpenIdConnectConfiguration { Issuer = api.Issuer.Issuer, JsonWebKeySet = new JsonWebKeySet(Jwks(weak.Jwk, strong.Jwk)) };
        await using var host = await KeysTestHost.StartAsync(time, o =>
        {
            o.Issuer = api.Issuer.Issuer;
            o.Audiences.Add("my-api");
            o.ConfigurationManager = new StaticConfigurationManager<OpenIdConnectConfiguration>(configuration);
        }, services: Diagnostics);
        var payload = Payload(api);

        var refused = await host.SendAsync(weak.Sign(payload));
        var accepted = await host.SendAsync(strong.Sign(payload));

        Assert.Equal(KubernetesTokenFailureReason.WeakKey, refused.Reason);
        Assert.Equal(HttpStatusCode.OK, accepted.Status);
        Assert.Equal(0, api.TotalRequests);
    }

    [Theory]
    [InlineData(new byte[] { 0x80 }, 8)]
    [InlineData(new byte[] { 0x00, 0x01, 0xFF }, 9)]
    [InlineData(new byte[] { 0x7F, 0x00 }, 15)]
    public void Modulus_size_counts_bits_after_leading_zeros(byte[] modulus, int bits) =>
        Assert.Equal(bits, SigningKey.ModulusBits(modulus));

    private static void Diagnostics(IServiceCollection services)
    {
        services.AddLogging(b => b.AddFakeLogging());
        services.AddHealthChecks().AddKubernetesServiceAccountKeys();
    }

    /// <summary>The payload of a genuine token of the issuer; only the signature differs between keys.</summary>
    private static string Payload(FakeApiServer api) => api.Issuer.CreateToken().Build().Split('.')[1];

    private static WireMockServer ServeJwks(params JsonObject[] keys)
    {
        var server = WireMockServer.Start(new WireMockServerSettings { Urls = ["http://127.0.0.1:0"] });
        server.Given(Request.Create().WithPath("/openid/v1/jwks").UsingGet())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/jwk-set+json").WithBody(Jwks(keys)));
        return server;
    }

    private static string Jwks(params JsonObject[] keys) => new JsonObject { ["keys"] = new JsonArray([.. keys.Select(k => (JsonNode)k.DeepClone())]) }.ToJsonString();

    private string Write(string name, string content)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    /// <summary>
    /// An RSA key of any size and tokens it signs, made by hand: IdentityModel refuses to sign with an RSA
    /// key under 2048 bits, and the point is a token that a weak key really signed.
    /// </summary>
    private sealed class RsaKey : IDisposable
    {
        private RsaKey(RSA rsa)
        {
            Rsa = rsa;
            KeyId = Base64UrlEncoder.Encode(SHA256.HashData(rsa.ExportSubjectPublicKeyInfo()));
            var p = rsa.ExportParameters(false);
            Jwk = new JsonObject
            {
                ["use"] = "sig",
                ["kty"] = "RSA",
                ["kid"] = KeyId,
                ["alg"] = "RS256",
                ["n"] = Base64UrlEncoder.Encode(p.Modulus),
                ["e"] = Base64UrlEncoder.Encode(p.Exponent),
            };
        }

        public RSA Rsa { get; }

        public string KeyId { get; }

        public JsonObject Jwk { get; }

        public static RsaKey Create(int bits) => new(RSA.Create(bits));

        public string Sign(string payload)
        {
            var header = Base64UrlEncoder.Encode(new JsonObject { ["alg"] = "RS256", ["kid"] = KeyId }.ToJsonString());
            var input = header + "." + payload;
            var signature = Rsa.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            return input + "." + Base64UrlEncoder.Encode(signature);
        }

        public void Dispose() => Rsa.Dispose();
    }
}
