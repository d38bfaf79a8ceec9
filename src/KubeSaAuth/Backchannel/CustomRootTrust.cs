// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KubeSaAuth.Backchannel;

/// <summary>
/// TLS trust in one PEM bundle alone (the cluster CA): custom root trust, not the machine's store; no
/// revocation lookups (a cluster CA publishes no CRL or OCSP); the host name checked as usual; a server
/// certificate must be issued for serverAuth. The bundle is re-read when its content changes. Shared by
/// in-cluster mode (<c>ca.crt</c>), <c>BackchannelCaCertificatePath</c> and TokenReview.
/// </summary>
internal sealed class CustomRootTrust(string path)
{
    // RFC 5280 §4.2.1.12 id-kp-serverAuth: the cluster CA also signs client certificates (kubelets,
    // controllers); only a certificate issued for a TLS server may speak for the API server.
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    private readonly object _gate = new();
    private TrustedRoots? _roots;

    /// <summary>The PEM bundle.</summary>
    public string Path { get; } = path;

    /// <summary>How many times the bundle was loaded (for tests).</summary>
    internal int Loads { get; private set; }

    /// <summary>The TLS layer alone: custom root trust in the bundle, name checked.</summary>
    public SocketsHttpHandler CreateTlsHandler() => new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = ValidateServerCertificate },
    };

    /// <summary>
    /// The handshake callback. A refusal throws <see cref="BackchannelTrustException"/> instead of returning
    /// <see langword="false"/>: SslStream would then report only "rejected by the callback", and the log must
    /// name the problem (UntrustedRoot, name mismatch, expired).
    /// </summary>
    internal bool ValidateServerCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
        {
            throw new BackchannelTrustException("the server sent no certificate");
        }

        // The host name is checked as usual; only the chain's anchor differs from the machine's store.
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            var host = (sender as SslStream)?.TargetHostName;
            throw new BackchannelTrustException($"the server's certificate does not name the host{(string.IsNullOrEmpty(host) ? string.Empty : $" '{host}'")} (RemoteCertificateNameMismatch; subject '{certificate.Subject}')");
        }

        X509Certificate2Collection roots;
        try
        {
            roots = GetRoots();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new BackchannelTrustException($"the CA bundle '{Path}' could not be read: {ex.Message}", ex);
        }

        if (roots.Count == 0)
        {
            throw new BackchannelTrustException($"the CA bundle '{Path}' holds no PEM certificate, so no server is trusted");
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
        if (custom.Build(leaf))
        {
            return true;
        }

        var statuses = custom.ChainStatus.Select(s => s.Status).Where(s => s != X509ChainStatusFlags.NoError).Distinct().ToList();
        // The certificate the chain could not anchor: a self-signed root not in the bundle, or the issuer of
        // the last certificate the server sent.
        var top = custom.ChainElements.Count > 0 ? custom.ChainElements[^1].Certificate : leaf;
        var anchor = top.Subject == top.Issuer ? top.Subject : top.Issuer;
        var why = string.Join(", ", statuses);
        var detail = statuses.Contains(X509ChainStatusFlags.UntrustedRoot) || statuses.Contains(X509ChainStatusFlags.PartialChain)
            ? $"untrusted root: '{anchor}' is not in '{Path}'"
            : statuses.Contains(X509ChainStatusFlags.NotTimeValid)
                ? $"the certificate '{leaf.Subject}' is valid {leaf.NotBefore.ToUniversalTime():u} to {leaf.NotAfter.ToUniversalTime():u}"
                : statuses.Contains(X509ChainStatusFlags.NotValidForUsage) || statuses.Contains(X509ChainStatusFlags.InvalidExtension)
                    ? $"the certificate '{leaf.Subject}' is not issued for a TLS server (serverAuth)"
                    : $"certificate '{leaf.Subject}'";
        throw new BackchannelTrustException($"the server's certificate chain is not trusted: {(why.Length == 0 ? "unknown chain error" : why)} ({detail})");
    }

    /// <summary>
    /// The CA certificates, reloaded when the file changed. The file (a few KiB) is read per TLS handshake,
    /// which pooled connections make rare; its content is compared, since the kubelet swaps the
    /// <c>..data</c> symlink and neither the <c>ca.crt</c> link nor a watcher sees that reliably.
    /// </summary>
    private X509Certificate2Collection GetRoots()
    {
        var pem = File.ReadAllBytes(Path);
        lock (_gate)
        {
            if (_roots is not null && _roots.Pem.AsSpan().SequenceEqual(pem))
            {
                return _roots.Certificates;
            }

            var certificates = new X509Certificate2Collection();
            certificates.ImportFromPem(System.Text.Encoding.ASCII.GetString(pem));
            _roots = new TrustedRoots(certificates, pem);
            Loads++;
            return certificates;
        }
    }

    private sealed record TrustedRoots(X509Certificate2Collection Certificates, byte[] Pem);
}
