// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Keys;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;
using WireMock.Server;
using WireMock.Settings;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>
/// One real host over HTTP (Kestrel on 127.0.0.1:0) with an RS256 and an ES256 key, a fixed fake clock,
/// and an "attacker" WireMock server that tokens point at through <c>jku</c>/<c>x5u</c> (it must see no request).
/// Crafted tokens are signed with the issuer's real key, so each is refused for its one defect only.
/// </summary>
public sealed class HostileTokenFixture : IAsyncLifetime
{
    public static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private KeysTestHost? _host;

    public HostileTokenFixture()
    {
        Time = new FakeTimeProvider(Now);
        Issuer = new KubernetesTestIssuer(timeProvider: Time);
        Rsa = Issuer.ActiveKey;
        Ec = Issuer.AddKey(SecurityAlgorithms.EcdsaSha256, activate: false);
        Attacker = WireMockServer.Start(new WireMockServerSettings { Urls = ["http://127.0.0.1:0"] });
        var good = Issuer.CreateToken("my-namespace", "my-service-account").Build();
        PayloadJson = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(good.Split('.')[1]));
    }

    public FakeTimeProvider Time { get; }

    public KubernetesTestIssuer Issuer { get; }

    public TestSigningKey Rsa { get; }

    public TestSigningKey Ec { get; }

    public WireMockServer Attacker { get; }

    /// <summary>The payload of a valid token (compact JSON as the builder writes it).</summary>
    public string PayloadJson { get; }

    public string HeaderJson => $"{{\"alg\":\"RS256\",\"kid\":\"{Rsa.KeyId}\"}}";

    internal KeysTestHost Host => _host!;

    public static string B64(string text) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(text));

    public static string B64(byte[] bytes) => Base64UrlEncoder.Encode(bytes);

    public string Valid() => Issuer.CreateToken("my-namespace", "my-service-account").Build();

    /// <summary>Signs header and payload JSON text as given with <paramref name="key"/> (default the issuer's RSA key) under <paramref name="algorithm"/>.</summary>
    public string Sign(string headerJson, string payloadJson, TestSigningKey? key = null, string? algorithm = null) =>
        SignBytes(Encoding.UTF8.GetBytes(headerJson), Encoding.UTF8.GetBytes(payloadJson), key, algorithm);

    public string SignBytes(byte[] header, byte[] payload, TestSigningKey? key = null, string? algorithm = null)
    {
        key ??= Rsa;
        var input = B64(header) + "." + B64(payload);
        return input + "." + KubernetesTokenBuilder.Sign(key, algorithm ?? key.Algorithm, input);
    }

    /// <summary>A token with the valid payload edited by <paramref name="edit"/>, signed with the real key.</summary>
    public string WithPayload(Func<string, string> edit) => Sign(HeaderJson, edit(PayloadJson));

    /// <summary>A token with the valid payload as a JSON object edited by <paramref name="edit"/>, signed with the real key.</summary>
    public string WithClaims(Action<JsonObject> edit)
    {
        var payload = JsonNode.Parse(PayloadJson)!.AsObject();
        edit(payload);
        return Sign(HeaderJson, payload.ToJsonString());
    }

    public string WithHeader(string headerJson) => Sign(headerJson, PayloadJson);

    /// <summary>HMAC-signs header and payload with <paramref name="secret"/> (the key-confusion attack).</summary>
    public string Hmac(string algorithm, byte[] secret)
    {
        var input = B64($"{{\"alg\":\"{algorithm}\",\"kid\":\"{Rsa.KeyId}\"}}") + "." + B64(PayloadJson);
        var data = Encoding.ASCII.GetBytes(input);
        var mac = algorithm switch
        {
            "HS384" => HMACSHA384.HashData(secret, data),
            "HS512" => HMACSHA512.HashData(secret, data),
            _ => HMACSHA256.HashData(secret, data),
        };
        return input + "." + B64(mac);
    }

    /// <summary>The issuer's public RSA key as PEM text, as an attacker would download it.</summary>
    public byte[] PublicKeyPem()
    {
        var rsa = ((RsaSecurityKey)Rsa.SecurityKey).Rsa!;
        return Encoding.ASCII.GetBytes(rsa.ExportSubjectPublicKeyInfoPem());
    }

    public async Task InitializeAsync()
    {
        _host = await KeysTestHost.StartAsync(Time, o => Issuer.Configure(o, inProcess: true), kestrel: true);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        Attacker.Stop();
        Attacker.Dispose();
    }
}
