// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Net.Sockets;
using KubeSaAuth.Backchannel;
using KubeSaAuth.InCluster;
using KubeSaAuth.Schemes;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace KubeSaAuth.Tests.Backchannel;

/// <summary>
/// Outside the cluster: <c>BackchannelCaCertificatePath</c> and <c>BackchannelTokenPath</c> against a stand-in
/// API server over real HTTPS (Kestrel on 127.0.0.1:0) whose certificate a CA made for the test signs.
/// </summary>
public sealed class BackchannelTests : IAsyncLifetime
{
    private const string Scheme = KubernetesServiceAccountDefaults.AuthenticationScheme;

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly TestCertificateAuthority _clusterCa = new("cluster-ca");
    private readonly TestCertificateAuthority _otherCa = new("other-ca");
    private readonly DirectoryInfo _files = Directory.CreateTempSubdirectory("kubesa-backchannel-");
    private readonly List<IAsyncDisposable> _servers = [];
    private KubernetesTestIssuer _issuer = null!;
    private TestApiServer _server = null!;

    private string CaPath => Path.Combine(_files.FullName, "ca.crt");

    private string TokenPath => Path.Combine(_files.FullName, "token");

    public async Task InitializeAsync()
    {
        _issuer = new KubernetesTestIssuer(timeProvider: _time);
        _server = await Start(_clusterCa.IssueServerCertificate());
        File.WriteAllText(CaPath, _clusterCa.Pem);
    }

    public async Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        _clusterCa.Dispose();
        _otherCa.Dispose();
        _files.Delete(recursive: true);
    }

    [Fact]
    public async Task Trusts_the_api_server_through_the_ca_bundle_alone()
    {
        using var services = BuildServices(o => o.BackchannelCaCertificatePath = CaPath);
        var runtime = GetRuntime(services, out _);

        var outcome = await runtime.Validator.ValidateAsync(_issuer.CreateToken("my-namespace", "caller").Build(), CancellationToken.None);

        Assert.Null(outcome.Failure);
        Assert.NotEmpty(_server.Authorizations);
        Assert.All(_server.Authorizations, a => Assert.Null(a)); // no BackchannelTokenPath: no token
    }

    [Fact]
    public async Task Without_the_ca_bundle_the_machine_store_refuses_the_private_ca()
    {
        using var services = BuildServices(configure: null);
        var runtime = GetRuntime(services, out _);

        Assert.False(await runtime.Keys.FetchNowAsync(CancellationToken.None));
        Assert.Empty(_server.Authorizations);
        var error = runtime.Keys.GetStatus().LastError;
        Assert.True(error?.Contains("UntrustedRoot", StringComparison.Ordinal) == true || error?.Contains("PartialChain", StringComparison.Ordinal) == true, error);
    }

    [Fact]
    public async Task Refuses_a_server_under_another_ca_answers_it_nothing_and_logs_the_chain_problem()
    {
        File.WriteAllText(CaPath, _otherCa.Pem);
        using var services = BuildServices(o => o.BackchannelCaCertificatePath = CaPath);
        var runtime = GetRuntime(services, out _);

        var fetched = await runtime.Keys.FetchNowAsync(CancellationToken.None);

        Assert.False(fetched);
        Assert.Empty(_server.Authorizations);
        var record = Assert.Single(services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "KeyFetchFailed");
        Assert.Equal(LogLevel.Warning, record.Level);
        Assert.Contains("untrusted root: 'CN=cluster-ca'", record.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("(null)", record.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("inner exception", record.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Names_a_host_name_mismatch()
    {
        var impostor = await Start(_clusterCa.IssueServerCertificate(onlyDnsName: "kube-apiserver.example"));
        using var services = BuildServices(o => o.BackchannelCaCertificatePath = CaPath, impostor);
        var runtime = GetRuntime(services, out _);

        Assert.False(await runtime.Keys.FetchNowAsync(CancellationToken.None));

        Assert.Empty(impostor.Authorizations);
        Assert.Contains("RemoteCertificateNameMismatch", runtime.Keys.GetStatus().LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Names_an_expired_certificate()
    {
        var expired = await Start(_clusterCa.IssueServerCertificate(notAfter: DateTimeOffset.UtcNow.AddDays(-1)));
        using var services = BuildServices(o => o.BackchannelCaCertificatePath = CaPath, expired);
        var runtime = GetRuntime(services, out _);

        Assert.False(await runtime.Keys.FetchNowAsync(CancellationToken.None));

        Assert.Empty(expired.Authorizations);
        Assert.Contains("NotTimeValid", runtime.Keys.GetStatus().LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rereads_the_ca_bundle_when_the_file_changes()
    {
        File.WriteAllText(CaPath, _otherCa.Pem);
        using var services = BuildServices(o => o.BackchannelCaCertificatePath = CaPath);
        var runtime = GetRuntime(services, out _);
        Assert.False(await runtime.Keys.FetchNowAsync(CancellationToken.None));

        File.WriteAllText(CaPath, _otherCa.Pem + "\n" + _clusterCa.Pem);
        var fetched = await runtime.Keys.FetchNowAsync(CancellationToken.None);

        Assert.True(fetched, runtime.Keys.GetStatus().LastError);
    }

    [Fact]
    public async Task Sends_the_token_file_and_rereads_it_after_a_401()
    {
        File.WriteAllText(TokenPath, "outside-token-1\n");
        using var services = BuildServices(o =>
        {
            o.BackchannelCaCertificatePath = CaPath;
            o.BackchannelTokenPath = TokenPath;
        });
        var runtime = GetRuntime(services, out _);
        _server.AcceptToken = token => token == "outside-token-1";
        Assert.True(await runtime.Keys.FetchNowAsync(CancellationToken.None));
        Assert.All(_server.Authorizations, a => Assert.Equal("Bearer outside-token-1", a));

        // Rotated, and the server already refuses the old token; no time has passed.
        File.WriteAllText(TokenPath, "outside-token-2");
        _server.AcceptToken = token => token == "outside-token-2";
        _server.Authorizations.Clear();
        var fetched = await runtime.Keys.FetchNowAsync(CancellationToken.None);

        Assert.True(fetched, runtime.Keys.GetStatus().LastError);
        Assert.Equal<string?>(["Bearer outside-token-1", "Bearer outside-token-2", "Bearer outside-token-2"], _server.Authorizations.ToList());
    }

    [Fact]
    public async Task A_refused_token_file_is_named_with_its_likely_expiry_not_as_a_missing_option()
    {
        File.WriteAllText(TokenPath, "expired-kubectl-token");
        using var services = BuildServices(o =>
        {
            o.BackchannelCaCertificatePath = CaPath;
            o.BackchannelTokenPath = TokenPath;
        });
        var runtime = GetRuntime(services, out _);
        _server.AcceptToken = _ => false;

        Assert.False(await runtime.Keys.FetchNowAsync(CancellationToken.None));

        var record = Assert.Single(services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "KeyFetchFailed");
        Assert.Equal(LogLevel.Warning, record.Level);
        Assert.Contains($"the token read from {TokenPath} was refused (401); it may have expired: `kubectl create token` tokens last 1 h unless `--duration` is given", record.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("set BackchannelTokenPath", record.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_401_without_a_token_file_advises_BackchannelTokenPath()
    {
        using var services = BuildServices(o => o.BackchannelCaCertificatePath = CaPath);
        var runtime = GetRuntime(services, out _);
        _server.AcceptToken = token => token is not null;

        Assert.False(await runtime.Keys.FetchNowAsync(CancellationToken.None));

        var error = runtime.Keys.GetStatus().LastError;
        Assert.Contains("401", error, StringComparison.Ordinal);
        Assert.Contains("set BackchannelTokenPath", error, StringComparison.Ordinal);
        Assert.DoesNotContain("was refused", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rereads_the_token_file_when_it_changes()
    {
        File.WriteAllText(TokenPath, "outside-token-1");
        using var services = BuildServices(o =>
        {
            o.BackchannelCaCertificatePath = CaPath;
            o.BackchannelTokenPath = TokenPath;
        });
        var runtime = GetRuntime(services, out _);
        Assert.True(await runtime.Keys.FetchNowAsync(CancellationToken.None));

        File.WriteAllText(TokenPath, "outside-token-2");
        _time.Advance(BackchannelCredentialsRegistry.TokenRefreshInterval + TimeSpan.FromSeconds(1));
        _server.Authorizations.Clear();
        Assert.True(await runtime.Keys.FetchNowAsync(CancellationToken.None));

        Assert.NotEmpty(_server.Authorizations);
        Assert.All(_server.Authorizations, a => Assert.Equal("Bearer outside-token-2", a));
    }

    [Fact]
    public async Task Never_sends_the_token_to_a_jwks_uri_on_another_origin()
    {
        var elsewhere = await Start(_clusterCa.IssueServerCertificate());
        _issuer.PublishedJwksUri = new Uri(elsewhere.BaseAddress, KubernetesServiceAccountDefaults.JwksPath).ToString();
        File.WriteAllText(TokenPath, "outside-token-1");
        using var services = BuildServices(o =>
        {
            o.BackchannelCaCertificatePath = CaPath;
            o.BackchannelTokenPath = TokenPath;
            o.JwksUri = null; // the discovery document's jwks_uri: the other server
        });
        var runtime = GetRuntime(services, out _);

        var outcome = await runtime.Validator.ValidateAsync(_issuer.CreateToken().Build(), CancellationToken.None);

        Assert.Null(outcome.Failure);
        Assert.Equal<string?>(["Bearer outside-token-1"], _server.Authorizations.ToList()); // discovery only
        Assert.Equal<string?>([null], elsewhere.Authorizations.ToList()); // the JWKS, without the token
    }

    [Fact]
    public async Task Sends_the_token_file_with_token_reviews_over_the_ca_bundle()
    {
        File.WriteAllText(TokenPath, "reviewer-token");
        using var services = BuildServices(o =>
        {
            o.BackchannelCaCertificatePath = CaPath;
            o.BackchannelTokenPath = TokenPath;
            o.ServiceAccountDirectory = Path.Combine(_files.FullName, "no-such-directory");
            o.TokenReview.Enabled = true;
            o.TokenReview.ApiServer = _server.BaseAddress.ToString();
        });
        var runtime = GetRuntime(services, out _);
        var token = _issuer.CreateToken().Build();
        var outcome = await runtime.Validator.ValidateAsync(token, CancellationToken.None);
        Assert.Null(outcome.Failure);
        _server.Authorizations.Clear();

        // The stand-in serves no TokenReview (404): the request reaching it, with the token, is what is shown.
        await runtime.Reviewer!.ReviewAsync(token, outcome.ServiceAccount!, forceFresh: true, CancellationToken.None);

        Assert.Equal<string?>(["Bearer reviewer-token"], _server.Authorizations.ToList());
    }

    [Fact]
    public void Binds_both_options_from_configuration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"Authentication:Schemes:{Scheme}:BackchannelCaCertificatePath"] = CaPath,
            [$"Authentication:Schemes:{Scheme}:BackchannelTokenPath"] = TokenPath,
        }).Build();
        using var services = BuildServices(configure: null, configuration: configuration);

        var options = services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(Scheme);

        Assert.Equal(CaPath, options.BackchannelCaCertificatePath);
        Assert.Equal(TokenPath, options.BackchannelTokenPath);
    }

    [Fact]
    public void The_startup_check_names_a_missing_file()
    {
        var options = new KubernetesServiceAccountOptions { BackchannelTokenPath = Path.Combine(_files.FullName, "missing-token") };

        var error = InClusterStartupCheck.GetError(Scheme, options);

        Assert.NotNull(error);
        Assert.Contains("'BackchannelTokenPath'", error, StringComparison.Ordinal);
        Assert.Contains("missing-token", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_closed_port_is_named_connection_refused()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var services = BuildServices(o =>
        {
            o.BackchannelCaCertificatePath = CaPath;
            o.MetadataAddress = $"https://127.0.0.1:{port}/.well-known/openid-configuration";
            o.JwksUri = null;
        });
        var runtime = GetRuntime(services, out _);

        Assert.False(await runtime.Keys.FetchNowAsync(CancellationToken.None));

        Assert.Contains("connection refused", runtime.Keys.GetStatus().LastError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(SocketError.HostNotFound, "DNS: the host name was not found")]
    [InlineData(SocketError.ConnectionRefused, "connection refused")]
    [InlineData(SocketError.TimedOut, "the connection timed out")]
    public void Explains_a_socket_failure_inside_the_http_exception(SocketError error, string expected)
    {
        var exception = new HttpRequestException(HttpRequestError.ConnectionError, "An error occurred while sending the request, see inner exception.", new SocketException((int)error));

        var description = BackchannelFailure.Describe(exception);

        Assert.StartsWith(expected, description, StringComparison.Ordinal);
        Assert.DoesNotContain("inner exception", description, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Logs_no_null_status_when_the_server_never_answered()
    {
        var collector = new FakeLogCollector();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(collector)));

        KubeSaAuth.Diagnostics.Log.KeyFetchFailed(factory.CreateLogger("test"), Scheme, "https://127.0.0.1:1/x", statusCode: null, "connection refused", "Retrying.");

        var record = Assert.Single(collector.GetSnapshot());
        Assert.DoesNotContain("(null)", record.Message, StringComparison.Ordinal);
        Assert.Contains("(no answer)", record.Message, StringComparison.Ordinal);
    }

    private async Task<TestApiServer> Start(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate)
    {
        var server = await TestApiServer.StartAsync(certificate, _issuer);
        _servers.Add(server);
        return server;
    }

    private ServiceProvider BuildServices(Action<KubernetesServiceAccountOptions>? configure, TestApiServer? server = null, IConfiguration? configuration = null)
    {
        var target = server ?? _server;
        var services = new ServiceCollection();
        services.AddSingleton(configuration ?? new ConfigurationBuilder().Build());
        services.AddSingleton<TimeProvider>(_time);
        services.AddLogging(b => b.AddFakeLogging());
        services.AddAuthentication().AddKubernetesServiceAccount(o =>
        {
            o.Issuer = _issuer.Issuer;
            o.MetadataAddress = new Uri(target.BaseAddress, KubernetesServiceAccountDefaults.DiscoveryPath).ToString();
            o.JwksUri = new Uri(target.BaseAddress, KubernetesServiceAccountDefaults.JwksPath).ToString();
            o.Audiences.Add("my-api");
            configure?.Invoke(o);
        });
        return services.BuildServiceProvider();
    }

    private static SchemeRuntime GetRuntime(IServiceProvider services, out KubernetesServiceAccountOptions options)
    {
        options = services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(Scheme);
        return services.GetRequiredService<SchemeRuntimeFactory>().GetOrCreate(Scheme, options);
    }
}
