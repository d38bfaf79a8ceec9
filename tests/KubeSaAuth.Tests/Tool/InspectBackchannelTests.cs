// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.Tool;

namespace KubeSaAuth.Tests.Tool;

/// <summary><c>kubesa inspect --cacert --token-file</c> against a stand-in API server over real HTTPS under a private CA.</summary>
public sealed class InspectBackchannelTests : IAsyncLifetime
{
    private readonly TestCertificateAuthority _clusterCa = new("cluster-ca");
    private readonly TestCertificateAuthority _otherCa = new("other-ca");
    private readonly DirectoryInfo _files = Directory.CreateTempSubdirectory("kubesa-inspect-");
    private KubernetesTestIssuer _issuer = null!;
    private TestApiServer _server = null!;

    private string CaPath => Path.Combine(_files.FullName, "ca.crt");

    private string OtherCaPath => Path.Combine(_files.FullName, "other-ca.crt");

    private string TokenPath => Path.Combine(_files.FullName, "token");

    public async Task InitializeAsync()
    {
        _issuer = new KubernetesTestIssuer();
        _server = await TestApiServer.StartAsync(_clusterCa.IssueServerCertificate(), _issuer);
        File.WriteAllText(CaPath, _clusterCa.Pem);
        File.WriteAllText(OtherCaPath, _otherCa.Pem);
        File.WriteAllText(TokenPath, "discovery-token");
        _server.AcceptToken = token => token == "discovery-token";
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _clusterCa.Dispose();
        _otherCa.Dispose();
        _files.Delete(recursive: true);
    }

    [Fact]
    public async Task Fetches_with_the_ca_bundle_and_the_token_file()
    {
        var (exit, output) = await RunAsync("--cacert", CaPath, "--token-file", TokenPath);

        Assert.True(exit == InspectCommand.Accepted, output);
        Assert.Contains("Verdict: ACCEPTED", output, StringComparison.Ordinal);
        Assert.NotEmpty(_server.Authorizations);
        Assert.All(_server.Authorizations, a => Assert.Equal("Bearer discovery-token", a));
    }

    [Fact]
    public async Task Names_the_untrusted_root_when_the_ca_bundle_is_another()
    {
        var (exit, output) = await RunAsync("--cacert", OtherCaPath, "--token-file", TokenPath);

        Assert.Equal(InspectCommand.Refused, exit);
        Assert.Empty(_server.Authorizations);
        Assert.Contains("untrusted root: 'CN=cluster-ca'", output, StringComparison.Ordinal);
        Assert.DoesNotContain("(null)", output, StringComparison.Ordinal);
        Assert.DoesNotContain("inner exception", output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Names_the_missing_token_when_the_server_wants_one()
    {
        var (exit, output) = await RunAsync("--cacert", CaPath);

        Assert.Equal(InspectCommand.Refused, exit);
        Assert.Contains("401", output, StringComparison.Ordinal);
        Assert.Contains("BackchannelTokenPath", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Names_the_refused_token_file_and_its_likely_expiry()
    {
        _server.AcceptToken = _ => false;

        var (exit, output) = await RunAsync("--cacert", CaPath, "--token-file", TokenPath);

        Assert.Equal(InspectCommand.Refused, exit);
        Assert.Contains($"the token read from {TokenPath} was refused (401); it may have expired: `kubectl create token` tokens last 1 h unless `--duration` is given", output, StringComparison.Ordinal);
        Assert.DoesNotContain("set BackchannelTokenPath", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refuses_a_cacert_file_that_does_not_exist()
    {
        var (exit, output) = await RunAsync("--cacert", Path.Combine(_files.FullName, "missing.crt"));

        Assert.Equal(InspectCommand.UsageError, exit);
        Assert.Contains("--cacert", output, StringComparison.Ordinal);
    }

    private async Task<(int Exit, string Output)> RunAsync(params string[] extra)
    {
        string[] args =
        [
            "inspect", _issuer.CreateToken().Build(),
            "--issuer", _issuer.Issuer,
            "--metadata", new Uri(_server.BaseAddress, KubernetesServiceAccountDefaults.DiscoveryPath).ToString(),
            "--jwks", new Uri(_server.BaseAddress, KubernetesServiceAccountDefaults.JwksPath).ToString(),
            "--audience", "my-api",
            .. extra,
        ];
        using var output = new StringWriter();
        var exit = await InspectCommand.RunAsync(args, new StringReader(string.Empty), output, output, CancellationToken.None);
        return (exit, output.ToString());
    }
}
