// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KubeSaAuth.Client;

namespace KubeSaAuth.InCluster;

/// <summary>
/// A Pod's credentials for talking to the API server, from its service-account directory: the cluster CA
/// (<c>ca.crt</c>, trusted alone — not the machine's store — and reloaded when the file changes) and the
/// token (<c>token</c>, re-read when the kubelet rotates it). One per directory, shared by the key
/// backchannel and TokenReview.
/// </summary>
internal sealed class InClusterCredentials
{
    public const string TokenFile = "token";
    public const string CaFile = "ca.crt";
    public const string NamespaceFile = "namespace";

    // RFC 5280 §4.2.1.12 id-kp-serverAuth: the cluster CA also signs client certificates (kubelets,
    // controllers); only a certificate issued for a TLS server may speak for the API server.
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    private readonly object _gate = new();
    private readonly string _caPath;
    private TrustedRoots? _roots;

    public InClusterCredentials(string directory, TimeProvider timeProvider, TimeSpan tokenRefreshInterval)
    {
        Directory = directory;
        _caPath = Path.Combine(directory, CaFile);
        Token = new ServiceAccountTokenSource(new ServiceAccountTokenSourceOptions
        {
            Path = Path.Combine(directory, TokenFile),
            RefreshInterval = tokenRefreshInterval,
            TimeProvider = timeProvider,
        });
    }

    public string Directory { get; }

    public ServiceAccountTokenSource Token { get; }

    /// <summary>How many times <c>ca.crt</c> was loaded (for tests).</summary>
    internal int CaLoads { get; private set; }

    /// <summary>The startup check: the directory and its files exist; the message says what is wrong.</summary>
    public static string? Check(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            return $"In-cluster mode: the service-account directory '{directory}' does not exist (not running in a Pod? is automountServiceAccountToken false?). Set 'ServiceAccountDirectory', or turn 'InCluster' off and set 'Issuer'.";
        }

        foreach (var file in new[] { CaFile, TokenFile })
        {
            if (!File.Exists(Path.Combine(directory, file)))
            {
                return $"In-cluster mode: '{Path.Combine(directory, file)}' does not exist (not running in a Pod, or the service-account volume is incomplete?).";
            }
        }

        return null;
    }

    /// <summary>
    /// A handler that trusts only the cluster CA and sends the token to <paramref name="apiServer"/> (and to
    /// no other host).
    /// </summary>
    public HttpMessageHandler CreateHandler(Uri apiServer)
    {
        var tls = CreateTlsHandler();
        return new KubernetesServiceAccountTokenHandler(Token, request => IsSameOrigin(request.RequestUri, apiServer)) { InnerHandler = tls };
    }

    /// <summary>The TLS layer alone: custom root trust in <c>ca.crt</c>, name checked.</summary>
    public SocketsHttpHandler CreateTlsHandler() => new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = ValidateServerCertificate },
    };

    internal static bool IsSameOrigin(Uri? request, Uri apiServer) =>
        request is not null
        && string.Equals(request.Scheme, apiServer.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(request.IdnHost, apiServer.IdnHost, StringComparison.OrdinalIgnoreCase)
        && request.Port == apiServer.Port;

    internal bool ValidateServerCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        // The host name is checked as usual; only the chain's anchor differs from the machine's store.
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        X509Certificate2Collection roots;
        try
        {
            roots = GetRoots();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            return false;
        }

        if (roots.Count == 0)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(roots);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        custom.ChainPolicy.DisableCertificateDownloads = true;
        custom.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return custom.Build(leaf);
    }

    /// <summary>
    /// The CA certificates, reloaded when <c>ca.crt</c> changed. The file (a few KiB) is read per TLS
    /// handshake, which pooled connections make rare; its content is compared, since the kubelet swaps the
    /// <c>..data</c> symlink and neither the <c>ca.crt</c> link nor a watcher sees that reliably.
    /// </summary>
    private X509Certificate2Collection GetRoots()
    {
        var pem = File.ReadAllBytes(_caPath);
        lock (_gate)
        {
            if (_roots is not null && _roots.Pem.AsSpan().SequenceEqual(pem))
            {
                return _roots.Certificates;
            }

            var certificates = new X509Certificate2Collection();
            certificates.ImportFromPem(System.Text.Encoding.ASCII.GetString(pem));
            _roots = new TrustedRoots(certificates, pem);
            CaLoads++;
            return certificates;
        }
    }

    private sealed record TrustedRoots(X509Certificate2Collection Certificates, byte[] Pem);
}
