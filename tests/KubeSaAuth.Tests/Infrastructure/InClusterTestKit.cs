// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KubeSaAuth.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>A certificate authority made for one test, and server certificates it signs.</summary>
internal sealed class TestCertificateAuthority : IDisposable
{
    private readonly RSA _key = RSA.Create(2048);

    public TestCertificateAuthority(string name = "kubernetes-test-ca")
    {
        var request = new CertificateRequest($"CN={name}", _key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(30));
    }

    public X509Certificate2 Certificate { get; }

    public string Pem => Certificate.ExportCertificatePem();

    /// <summary>
    /// A TLS server certificate for 127.0.0.1, ::1 and localhost, with its private key; <paramref name="extendedKeyUsage"/>
    /// is serverAuth unless a test wants another.
    /// </summary>
    public X509Certificate2 IssueServerCertificate(string extendedKeyUsage = "1.3.6.1.5.5.7.3.1", string? onlyDnsName = null, DateTimeOffset? notAfter = null)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=kube-apiserver", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        if (onlyDnsName is not null)
        {
            // A certificate for another host: a client that reaches it at 127.0.0.1 sees a name mismatch.
            names.AddDnsName(onlyDnsName);
        }
        else
        {
            names.AddIpAddress(IPAddress.Loopback);
            names.AddIpAddress(IPAddress.IPv6Loopback);
            names.AddDnsName("localhost");
        }

        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(extendedKeyUsage)], false));
        request.CertificateExtensions.Add(new X509AuthorityKeyIdentifierExtension(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false).RawData, false));
        var serial = new byte[8];
        RandomNumberGenerator.Fill(serial);
        var until = notAfter ?? DateTimeOffset.UtcNow.AddDays(7);
        using var signed = request.Create(Certificate, until.AddDays(-8), until, serial);
        using var withKey = signed.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    public void Dispose()
    {
        Certificate.Dispose();
        _key.Dispose();
    }
}

/// <summary>
/// A temporary service-account directory laid out as the kubelet does it: <c>..2026_…/{token,ca.crt,namespace}</c>,
/// <c>..data</c> a symlink to it, and <c>token</c>, <c>ca.crt</c>, <c>namespace</c> symlinks into <c>..data</c>.
/// <see cref="Rotate"/> writes a new timestamped directory and swaps <c>..data</c> with an atomic rename.
/// </summary>
internal sealed class TestServiceAccountDirectory : IDisposable
{
    private int _generation;

    public TestServiceAccountDirectory(string token, string caPem, string @namespace = "my-namespace")
    {
        Path = Directory.CreateTempSubdirectory("kubesa-sa-").FullName;
        Write(token, caPem, @namespace);
        foreach (var file in new[] { "token", "ca.crt", "namespace" })
        {
            File.CreateSymbolicLink(System.IO.Path.Combine(Path, file), System.IO.Path.Combine("..data", file));
        }
    }

    public string Path { get; }

    public string TokenPath => System.IO.Path.Combine(Path, "token");

    public string CaPath => System.IO.Path.Combine(Path, "ca.crt");

    private string Token { get; set; } = string.Empty;

    private string CaPem { get; set; } = string.Empty;

    private string Namespace { get; set; } = string.Empty;

    /// <summary>The kubelet's atomic update: new directory, new <c>..data_tmp</c> link, rename over <c>..data</c>.</summary>
    public void Rotate(string? token = null, string? caPem = null) => Write(token ?? Token, caPem ?? CaPem, Namespace);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void Write(string token, string caPem, string @namespace)
    {
        Token = token;
        CaPem = caPem;
        Namespace = @namespace;
        var name = $"..2026_11_30_00_00_{++_generation:D2}";
        var target = Directory.CreateDirectory(System.IO.Path.Combine(Path, name)).FullName;
        File.WriteAllText(System.IO.Path.Combine(target, "token"), token);
        File.WriteAllText(System.IO.Path.Combine(target, "ca.crt"), caPem);
        File.WriteAllText(System.IO.Path.Combine(target, "namespace"), @namespace);
        var temporary = System.IO.Path.Combine(Path, "..data_tmp");
        File.CreateSymbolicLink(temporary, name);
        if (rename(temporary, System.IO.Path.Combine(Path, "..data")) != 0)
        {
            throw new IOException($"rename failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    // rename(2) replaces the ..data symlink atomically, as the kubelet's AtomicWriter does.
    [DllImport("libc", SetLastError = true)]
#pragma warning disable CA2101, CA5392, SYSLIB1054 // test-only P/Invoke of libc rename with ASCII paths
    private static extern int rename([MarshalAs(UnmanagedType.LPUTF8Str)] string oldPath, [MarshalAs(UnmanagedType.LPUTF8Str)] string newPath);
#pragma warning restore CA2101, CA5392, SYSLIB1054
}

/// <summary>
/// A stand-in API server over real HTTPS on 127.0.0.1:0: serves the test issuer's discovery and JWKS
/// only to an accepted bearer token, and records what each request carried.
/// </summary>
internal sealed class TestApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestApiServer(WebApplication app, KubernetesTestIssuer issuer)
    {
        _app = app;
        Issuer = issuer;
    }

    public KubernetesTestIssuer Issuer { get; }

    public Uri BaseAddress { get; private set; } = null!;

    public int Port => BaseAddress.Port;

    /// <summary>The Authorization header of every request that reached the server, in order.</summary>
    public ConcurrentQueue<string?> Authorizations { get; } = new();

    /// <summary>When set, only these tokens are accepted; others get 401.</summary>
    public Func<string?, bool> AcceptToken { get; set; } = _ => true;

    public static async Task<TestApiServer> StartAsync(X509Certificate2 certificate, KubernetesTestIssuer issuer, IPAddress? address = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // The handshake callback, not UseHttps(certificate): Kestrel refuses to serve a certificate without
        // serverAuth, and the tests need such an impostor to show that the client refuses it.
        builder.WebHost.ConfigureKestrel(k => k.Listen(address ?? IPAddress.Loopback, 0, listen => listen.UseHttps(new TlsHandshakeCallbackOptions
        {
            OnConnection = _ => ValueTask.FromResult(new SslServerAuthenticationOptions { ServerCertificate = certificate }),
        })));
        var app = builder.Build();
        var server = new TestApiServer(app, issuer);
        app.Run(async context =>
        {
            var authorization = context.Request.Headers.Authorization.ToString();
            server.Authorizations.Enqueue(authorization.Length == 0 ? null : authorization);
            var token = authorization.StartsWith("Bearer ", StringComparison.Ordinal) ? authorization["Bearer ".Length..] : null;
            if (!server.AcceptToken(token))
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return;
            }

            switch (context.Request.Path.Value)
            {
                case "/.well-known/openid-configuration":
                    context.Response.ContentType = "application/json";
                    await context.Response.WriteAsync(issuer.GetDiscoveryDocument());
                    break;
                case "/openid/v1/jwks":
                    context.Response.ContentType = "application/jwk-set+json";
                    await context.Response.WriteAsync(issuer.GetJwks());
                    break;
                default:
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    break;
            }
        });
        await app.StartAsync();
        var listening = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseAddress = new Uri(listening);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
