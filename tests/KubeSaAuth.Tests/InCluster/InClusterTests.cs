// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Net;
using KubeSaAuth.InCluster;
using KubeSaAuth.Keys;
using KubeSaAuth.Schemes;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.Tokens;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace KubeSaAuth.Tests.InCluster;

public sealed class InClusterTests : IAsyncLifetime
{
    private const string Scheme = KubernetesServiceAccountDefaults.AuthenticationScheme;

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly TestCertificateAuthority _clusterCa = new("cluster-ca");
    private readonly TestCertificateAuthority _otherCa = new("other-ca");
    private readonly List<IDisposable> _disposables = [];
    private KubernetesTestIssuer _issuer = null!;
    private TestApiServer _server = null!;

    public async Task InitializeAsync()
    {
        _issuer = new KubernetesTestIssuer(timeProvider: _time);
        _server = await TestApiServer.StartAsync(_clusterCa.IssueServerCertificate(), _issuer);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        foreach (var disposable in _disposables)
        {
            disposable.Dispose();
        }

        _clusterCa.Dispose();
        _otherCa.Dispose();
    }

    [Fact]
    public async Task Fetches_keys_from_the_api_server_with_the_pod_token_over_the_cluster_ca()
    {
        using var sa = Directory("pod-token-1", _clusterCa.Pem);
        using var services = BuildServices(sa);
        var runtime = GetRuntime(services, out var options);

        var outcome = await runtime.Validator.ValidateAsync(_issuer.CreateToken("my-namespace", "caller").Build(), CancellationToken.None);

        Assert.Null(outcome.Failure);
        Assert.Equal(new Uri(_server.BaseAddress, "/.well-known/openid-configuration").ToString(), options.MetadataAddress);
        Assert.Equal(new Uri(_server.BaseAddress, "/openid/v1/jwks").ToString(), options.JwksUri);
        Assert.NotEmpty(_server.Authorizations);
        Assert.All(_server.Authorizations, a => Assert.Equal("Bearer pod-token-1", a));
    }

    [Fact]
    public async Task Takes_the_issuer_from_discovery_when_none_is_set()
    {
        using var sa = Directory("pod-token-1", _clusterCa.Pem);
        using var services = BuildServices(sa);
        var runtime = GetRuntime(services, out var options);

        var outcome = await runtime.Validator.ValidateAsync(_issuer.CreateToken().Build(), CancellationToken.None);

        Assert.Null(options.Issuer);
        Assert.Null(outcome.Failure);
        Assert.Equal(_issuer.Issuer, outcome.ServiceAccount!.Issuer);
    }

    [Fact]
    public async Task Sends_the_rotated_token_on_the_next_fetch()
    {
        using var sa = Directory("pod-token-1", _clusterCa.Pem);
        using var services = BuildServices(sa);
        var runtime = GetRuntime(services, out _);
        Assert.True(await runtime.Keys.FetchNowAsync(CancellationToken.None));

        sa.Rotate(token: "pod-token-2");
        _time.Advance(TimeSpan.FromMinutes(2));
        _server.Authorizations.Clear();
        Assert.True(await runtime.Keys.FetchNowAsync(CancellationToken.None));

        Assert.NotEmpty(_server.Authorizations);
        Assert.All(_server.Authorizations, a => Assert.Equal("Bearer pod-token-2", a));
    }

    [Fact]
    public async Task Rereads_the_token_once_when_the_api_server_answers_401()
    {
        using var sa = Directory("pod-token-1", _clusterCa.Pem);
        using var services = BuildServices(sa);
        var runtime = GetRuntime(services, out _);
        Assert.True(await runtime.Keys.FetchNowAsync(CancellationToken.None));

        // The kubelet rotated the file and the API server already refuses the old token; no time has passed.
        sa.Rotate(token: "pod-token-2");
        _server.AcceptToken = token => token == "pod-token-2";
        _server.Authorizations.Clear();
        var fetched = await runtime.Keys.FetchNowAsync(CancellationToken.None);

        Assert.True(fetched);
        Assert.Equal<string?>(["Bearer pod-token-1", "Bearer pod-token-2", "Bearer pod-token-2"], _server.Authorizations.ToList());
    }

    [Fact]
    public async Task Refuses_a_server_whose_certificate_comes_from_another_ca_and_sends_it_nothing()
    {
        using var sa = Directory("pod-token-1", _otherCa.Pem);
        using var services = BuildServices(sa);
        var runtime = GetRuntime(services, out _);

        var fetched = await runtime.Keys.FetchNowAsync(CancellationToken.None);

        Assert.False(fetched);
        Assert.Empty(_server.Authorizations);
        Assert.False(runtime.Keys.GetStatus().HasKeys);
    }

    [Theory]
    [InlineData("1.3.6.1.5.5.7.3.2")] // clientAuth: a kubelet's or controller's client certificate
    [InlineData("1.3.6.1.5.5.7.3.3")] // codeSigning
    public async Task Refuses_a_cluster_ca_certificate_not_issued_for_a_tls_server_and_sends_it_nothing(string extendedKeyUsage)
    {
        await using var impostor = await TestApiServer.StartAsync(_clusterCa.IssueServerCertificate(extendedKeyUsage), _issuer);
        using var sa = Directory("pod-token-1", _clusterCa.Pem);
        using var services = BuildServices(sa, port: impostor.Port);
        var runtime = GetRuntime(services, out _);

        var fetched = await runtime.Keys.FetchNowAsync(CancellationToken.None);

        Assert.False(fetched);
        Assert.Empty(impostor.Authorizations);
        Assert.False(runtime.Keys.GetStatus().HasKeys);
    }

    [Fact]
    public async Task Does_not_trust_the_machine_store_nor_skip_the_check_when_ca_crt_names_no_certificate()
    {
        using var sa = Directory("pod-token-1", "not a certificate");
        using var services = BuildServices(sa);
        var runtime = GetRuntime(services, out _);

        var fetched = await runtime.Keys.FetchNowAsync(CancellationToken.None);

        Assert.False(fetched);
        Assert.Empty(_server.Authorizations);
    }

    [Fact]
    public async Task Reloads_ca_crt_when_the_file_changes()
    {
        using var sa = Directory("pod-token-1", _otherCa.Pem);
        using var services = BuildServices(sa);
        var runtime = GetRuntime(services, out _);
        Assert.False(await runtime.Keys.FetchNowAsync(CancellationToken.None));

        sa.Rotate(caPem: _otherCa.Pem + "\n" + _clusterCa.Pem + "\n");
        var fetched = await runtime.Keys.FetchNowAsync(CancellationToken.None);

        Assert.True(fetched, runtime.Keys.GetStatus().LastError);
        Assert.Contains("Bearer pod-token-1", _server.Authorizations);
    }

    [Fact]
    public void Explicit_addresses_win_over_the_in_cluster_defaults()
    {
        using var sa = Directory("pod-token-1", _clusterCa.Pem);
        using var services = BuildServices(sa, o =>
        {
            o.Issuer = "https://oidc.example.com";
            o.JwksUri = "https://keys.example.com/jwks";
        });

        GetRuntime(services, out var options);

        Assert.Null(options.MetadataAddress);
        Assert.Equal("https://keys.example.com/jwks", options.JwksUri);
    }

    [Fact]
    public void Configuration_InCluster_true_turns_the_mode_on()
    {
        using var sa = Directory("pod-token-1", _clusterCa.Pem);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"Authentication:Schemes:{Scheme}:InCluster"] = "true",
            [$"Authentication:Schemes:{Scheme}:ServiceAccountDirectory"] = sa.Path,
            [$"Authentication:Schemes:{Scheme}:Audiences:0"] = "my-api",
        }).Build();
        using var services = BuildServices(sa, configure: null, configuration, useInCluster: false);

        GetRuntime(services, out var options);

        Assert.True(options.InCluster);
        Assert.Equal(new Uri(_server.BaseAddress, "/openid/v1/jwks").ToString(), options.JwksUri);
    }

    [Theory]
    [InlineData("127.0.0.1", "https://127.0.0.1:")]
    [InlineData("::1", "https://[::1]:")]
    public async Task Reaches_the_api_server_the_environment_names_over_ipv4_and_ipv6(string host, string expectedPrefix)
    {
        await using var server = await TestApiServer.StartAsync(_clusterCa.IssueServerCertificate(), _issuer, IPAddress.Parse(host));
        using var sa = Directory("pod-token-1", _clusterCa.Pem);
        using var services = BuildServices(sa, host: host, port: server.Port);
        var runtime = GetRuntime(services, out var options);

        var fetched = await runtime.Keys.FetchNowAsync(CancellationToken.None);

        Assert.True(fetched, runtime.Keys.GetStatus().LastError);
        Assert.StartsWith(expectedPrefix, options.JwksUri, StringComparison.Ordinal);
        Assert.NotEmpty(server.Authorizations);
        Assert.All(server.Authorizations, a => Assert.Equal("Bearer pod-token-1", a));
    }

    [Theory]
    [InlineData("10.96.0.1", "443", "https://10.96.0.1/")]
    [InlineData("10.96.0.1", "6443", "https://10.96.0.1:6443/")]
    [InlineData("fd00:10:96::1", "443", "https://[fd00:10:96::1]/")]
    [InlineData("fd00:10:96::1", "6443", "https://[fd00:10:96::1]:6443/")]
    [InlineData("kubernetes.default.svc", null, "https://kubernetes.default.svc/")]
    [InlineData(null, null, "https://kubernetes.default.svc/")]
    public void Resolves_the_api_server_from_the_environment(string? host, string? port, string expected)
    {
        var environment = new InClusterEnvironment(name => name switch
        {
            InClusterEnvironment.HostVariable => host,
            InClusterEnvironment.PortVariable => port,
            _ => null,
        });

        var (address, fromEnvironment) = environment.ResolveApiServer();

        Assert.Equal(expected, address.ToString());
        Assert.Equal(host is not null, fromEnvironment);
    }

    [Theory]
    [InlineData("10.96.0.1", "https")]
    [InlineData("10.96.0.1", "0")]
    [InlineData("10.96.0.1", "70000")]
    [InlineData("host/with/path", "443")]
    public void Refuses_unusable_environment_variables(string host, string port)
    {
        var environment = new InClusterEnvironment(name => name == InClusterEnvironment.HostVariable ? host : port);

        var error = Assert.Throws<InvalidOperationException>(() => environment.ResolveApiServer());

        Assert.Contains("KUBERNETES_SERVICE_", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fails_at_startup_when_the_service_account_directory_is_missing()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLogging();
        services.AddAuthentication().AddKubernetesServiceAccount(o =>
        {
            o.UseInCluster(Path.Combine(Path.GetTempPath(), "kubesa-missing-" + Guid.NewGuid().ToString("N")));
            o.Audiences.Add("my-api");
        });
        using var provider = services.BuildServiceProvider();
        var check = provider.GetServices<IHostedService>().OfType<InClusterStartupCheck>().Single();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => check.StartAsync(CancellationToken.None));

        Assert.Contains("not running in a Pod?", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{Scheme}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reading_the_options_outside_a_pod_still_works()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddAuthentication().AddKubernetesServiceAccount(o => o.UseInCluster("/nonexistent").Audiences.Add("my-api"));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(Scheme);

        Assert.True(options.InCluster);
    }

    [Fact]
    public void The_first_use_outside_a_pod_says_why()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLogging();
        services.AddAuthentication().AddKubernetesServiceAccount(o => o.UseInCluster("/nonexistent").Audiences.Add("my-api"));
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => GetRuntime(provider, out _));

        Assert.Contains("not running in a Pod?", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("token")]
    [InlineData("ca.crt")]
    public void Names_the_missing_file_of_the_service_account_directory(string file)
    {
        using var sa = Directory("pod-token-1", _clusterCa.Pem);
        File.Delete(Path.Combine(sa.Path, file));
        var options = new KubernetesServiceAccountOptions().UseInCluster(sa.Path);

        var error = InClusterStartupCheck.GetError(Scheme, options);

        Assert.Contains(Path.Combine(sa.Path, file), error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://127.0.0.1:6443/openid/v1/jwks", true)]
    [InlineData("https://127.0.0.1:6443/.well-known/openid-configuration", true)]
    [InlineData("https://127.0.0.1:443/openid/v1/jwks", false)]
    [InlineData("https://oidc.example.com/openid/v1/jwks", false)]
    [InlineData("http://127.0.0.1:6443/openid/v1/jwks", false)]
    public void Sends_the_pod_token_only_to_the_api_server(string address, bool sent)
    {
        Assert.Equal(sent, KubeSaAuth.Backchannel.BackchannelCredentials.IsSameOrigin(new Uri(address), new Uri("https://127.0.0.1:6443")));
    }

    private TestServiceAccountDirectory Directory(string token, string caPem)
    {
        var directory = new TestServiceAccountDirectory(token, caPem);
        _disposables.Add(directory);
        return directory;
    }

    private ServiceProvider BuildServices(TestServiceAccountDirectory sa, Action<KubernetesServiceAccountOptions>? configure = null, IConfiguration? configuration = null, bool useInCluster = true, string host = "127.0.0.1", int? port = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton(configuration ?? new ConfigurationBuilder().Build());
        services.AddSingleton<TimeProvider>(_time);
        services.AddSingleton(new InClusterEnvironment(name => name switch
        {
            InClusterEnvironment.HostVariable => host,
            InClusterEnvironment.PortVariable => (port ?? _server.Port).ToString(CultureInfo.InvariantCulture),
            _ => null,
        }));
        services.AddAuthentication().AddKubernetesServiceAccount(o =>
        {
            if (useInCluster)
            {
                o.UseInCluster(sa.Path);
                o.Audiences.Add("my-api");
            }

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
