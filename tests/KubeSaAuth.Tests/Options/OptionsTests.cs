// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Caching;
using KubeSaAuth.Schemes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Tests.Options;

public sealed class OptionsTests
{
    public static TheoryData<string, Action<KubernetesServiceAccountOptions>, string> InvalidOptions => new()
    {
        { "no issuer", o => o.Issuer = null, "The 'Issuer' option (or 'MetadataAddress', or 'InCluster') must be set" },
        { "only a jwks uri", o => { o.Issuer = null; o.JwksUri = "https://k8s.example/openid/v1/jwks"; }, "The 'Issuer' option must be set when only 'JwksUri' is" },
        { "no audience", o => o.Audiences.Clear(), "The 'Audiences' option must name at least one audience" },
        { "blank audience", o => o.Audiences.Add(" "), "audiences are compared exactly" },
        { "padded audience", o => o.Audiences.Add("my-api "), "leading or trailing spaces" },
        { "issuer not a url", o => o.Issuer = "kubernetes/serviceaccount", "set 'MetadataAddress' or 'JwksUri'" },
        { "issuer with //", o => o.Issuer = "https://oidc.example.com//clusters/a", "The 'Issuer' option ('https://oidc.example.com//clusters/a') has '//' in its path" },
        { "metadata not a url", o => o.MetadataAddress = "not a url", "The 'MetadataAddress' option ('not a url') must be an absolute http(s) URL" },
        { "metadata over http", o => o.MetadataAddress = "http://k8s.example/.well-known/openid-configuration", "must use HTTPS, or set 'RequireHttpsMetadata' to false" },
        { "metadata with //", o => o.MetadataAddress = "https://k8s.example//.well-known/openid-configuration", "has '//' in its path" },
        { "jwks with //", o => o.JwksUri = "https://k8s.example/openid//v1/jwks", "The 'JwksUri' option" },
        { "issuer over http", o => o.Issuer = "http://k8s.example", "is not HTTPS, so neither is its discovery document" },
        { "refresh too short", o => o.RefreshInterval = TimeSpan.FromMilliseconds(500), "The 'RefreshInterval' option (00:00:00.5000000) must be at least 00:00:01" },
        { "automatic refresh shorter", o => o.AutomaticRefreshInterval = TimeSpan.FromSeconds(5), "The 'AutomaticRefreshInterval' option" },
        { "negative skew", o => o.ClockSkew = TimeSpan.FromSeconds(-1), "The 'ClockSkew' option" },
        { "huge skew", o => o.ClockSkew = TimeSpan.FromHours(1), "must be between 00:00:00 and 00:10:00" },
        { "tiny max token size", o => o.MaxTokenSize = 100, "The 'MaxTokenSize' option (100)" },
        { "no fetch wait", o => o.MaxKeyFetchWait = TimeSpan.Zero, "The 'MaxKeyFetchWait' option" },
        { "no backchannel timeout", o => o.BackchannelTimeout = TimeSpan.Zero, "The 'BackchannelTimeout' option" },
        { "cache max age zero", o => o.ValidationCache.MaxAge = TimeSpan.Zero, "The 'ValidationCache:MaxAge' option" },
        { "cache max age absurd", o => o.ValidationCache.MaxAge = TimeSpan.MaxValue, "must be positive and at most 1.00:00:00" },
        { "review verdicts kept for hours", o => o.TokenReview.CacheDuration = TimeSpan.FromHours(2), "The 'TokenReview:CacheDuration' option (02:00:00) must be between 00:00:00 and 01:00:00" },
        { "shared verdicts kept locally for minutes", o => o.TokenReview.SharedCacheLocalDuration = TimeSpan.FromMinutes(2), "The 'TokenReview:SharedCacheLocalDuration' option (00:02:00) must be between 00:00:00 and 00:01:00" },
        { "negative shared local duration", o => o.TokenReview.SharedCacheLocalDuration = TimeSpan.FromSeconds(-1), "The 'TokenReview:SharedCacheLocalDuration' option" },
        { "no shared cache wait", o => o.TokenReview.SharedCacheTimeout = TimeSpan.Zero, "The 'TokenReview:SharedCacheTimeout' option (00:00:00) must be more than 00:00:00" },
        { "shared cache wait unbounded", o => o.TokenReview.SharedCacheTimeout = TimeSpan.FromMinutes(1), "The 'TokenReview:SharedCacheTimeout' option (00:01:00)" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Validate_refuses_a_configuration_that_cannot_work_saying_what_to_set(string name, Action<KubernetesServiceAccountOptions> change, string message)
    {
        var options = ValidOptions();
        change(options);

        var error = Assert.Throws<InvalidOperationException>(options.Validate);

        Assert.True(error.Message.Contains(message, StringComparison.Ordinal), $"{name}: {error.Message}");
    }

    [Fact]
    public void Validate_accepts_a_minimal_configuration()
    {
        ValidOptions().Validate();
    }

    [Theory]
    [InlineData("https://kubernetes.default.svc.cluster.local")]
    [InlineData("https://oidc.eks.eu-west-1.amazonaws.com/id/ABC")]
    [InlineData("https://container.googleapis.com/v1/projects/p/locations/l/clusters/c")]
    [InlineData("https://kubernetes.default.svc.cluster.local/")]
    public void Validate_accepts_real_issuers(string issuer)
    {
        var options = ValidOptions();
        options.Issuer = issuer;

        options.Validate();
    }

    [Fact]
    public void Validate_with_a_scheme_names_the_scheme()
    {
        var options = ValidOptions();
        options.Audiences.Clear();

        var error = Assert.Throws<InvalidOperationException>(() => options.Validate("cluster-a"));

        Assert.StartsWith("Authentication scheme 'cluster-a': The 'Audiences' option", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Secure_defaults()
    {
        var options = new KubernetesServiceAccountOptions();

        Assert.True(options.RequireHttpsMetadata);
        Assert.False(options.AcceptLegacyTokens);
        Assert.Empty(options.Audiences);
        Assert.Equal(TimeSpan.FromSeconds(60), options.ClockSkew);
        Assert.Equal(16 * 1024, options.MaxTokenSize);
        Assert.True(options.IncludeErrorDetails);
        Assert.True(options.EnforceWarnAfter);
        Assert.False(options.TokenReview.FallBackToLocalValidation);
    }

    [Fact]
    public void Timing_defaults_are_the_documented_ones()
    {
        var options = new KubernetesServiceAccountOptions();

        // The README's options table and docs/resilience.md quote these.
        Assert.Equal(TimeSpan.FromSeconds(10), options.RefreshInterval);
        Assert.Equal(TimeSpan.FromMinutes(5), options.AutomaticRefreshInterval);
        Assert.Equal(TimeSpan.FromSeconds(3), options.MaxKeyFetchWait);
        Assert.Equal(TimeSpan.FromSeconds(10), options.BackchannelTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), options.TokenReview.CacheDuration);
        Assert.Equal(16, options.TokenReview.MaxConcurrency);
        Assert.False(options.TokenReview.SharedCache);
        Assert.Equal(TimeSpan.FromSeconds(1), options.TokenReview.SharedCacheLocalDuration);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.TokenReview.SharedCacheTimeout);
        Assert.True(options.ValidationCache.Enabled);
        Assert.Equal(10_000, options.ValidationCache.MaxEntries);
        Assert.Equal(TimeSpan.FromMinutes(5), options.ValidationCache.MaxAge);
    }

    [Fact]
    public void Binds_every_documented_key_from_Authentication_Schemes_scheme()
    {
        // TokenReview reads the Pod's credentials, so the directory must hold them.
        var saDirectory = Directory.CreateTempSubdirectory("kubesa-sa-").FullName;
        File.WriteAllText(Path.Combine(saDirectory, "token"), "t");
        File.WriteAllText(Path.Combine(saDirectory, "ca.crt"), string.Empty);
        var settings = new Dictionary<string, string?>
        {
            ["Authentication:Schemes:cluster-a:Issuer"] = "https://issuer.example",
            ["Authentication:Schemes:cluster-a:MetadataAddress"] = "https://issuer.example/meta",
            ["Authentication:Schemes:cluster-a:JwksUri"] = "https://issuer.example/keys",
            ["Authentication:Schemes:cluster-a:Audiences:0"] = "a1",
            ["Authentication:Schemes:cluster-a:Audiences:1"] = "a2",
            ["Authentication:Schemes:cluster-a:AcceptLegacyTokens"] = "true",
            ["Authentication:Schemes:cluster-a:RequireHttpsMetadata"] = "false",
            ["Authentication:Schemes:cluster-a:ClockSkew"] = "00:00:30",
            ["Authentication:Schemes:cluster-a:RefreshInterval"] = "00:00:01",
            ["Authentication:Schemes:cluster-a:AutomaticRefreshInterval"] = "00:00:02",
            ["Authentication:Schemes:cluster-a:MaxTokenSize"] = "4096",
            ["Authentication:Schemes:cluster-a:IncludeErrorDetails"] = "false",
            ["Authentication:Schemes:cluster-a:ClusterName"] = "prod",
            ["Authentication:Schemes:cluster-a:ServiceAccountDirectory"] = saDirectory,
            ["Authentication:Schemes:cluster-a:TokenReview:Enabled"] = "true",
            ["Authentication:Schemes:cluster-a:TokenReview:SharedCache"] = "true",
            ["Authentication:Schemes:cluster-a:TokenReview:SharedCacheLocalDuration"] = "00:00:03",
            ["Authentication:Schemes:cluster-a:TokenReview:SharedCacheTimeout"] = "00:00:00.250",
            ["Authentication:Schemes:cluster-b:Issuer"] = "https://other.example",
            ["Authentication:Schemes:cluster-b:Audiences:0"] = "b1",
            ["Authentication:Schemes:cluster-b:JwksPath"] = "/etc/kubesa/jwks.json",
        };
        using var services = BuildServices(settings, b =>
        {
            b.Services.AddHybridCache();
            b.AddKubernetesServiceAccount("cluster-a").AddKubernetesServiceAccount("cluster-b");
        });

        KubernetesServiceAccountOptions o;
        try
        {
            o = services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get("cluster-a");
        }
        finally
        {
            Directory.Delete(saDirectory, recursive: true);
        }

        Assert.Equal("https://issuer.example", o.Issuer);
        Assert.Equal("https://issuer.example/meta", o.MetadataAddress);
        Assert.Equal("https://issuer.example/keys", o.JwksUri);
        Assert.Equal(["a1", "a2"], o.Audiences);
        Assert.True(o.AcceptLegacyTokens);
        Assert.False(o.RequireHttpsMetadata);
        Assert.Equal(TimeSpan.FromSeconds(30), o.ClockSkew);
        Assert.Equal(TimeSpan.FromSeconds(1), o.RefreshInterval);
        Assert.Equal(TimeSpan.FromSeconds(2), o.AutomaticRefreshInterval);
        Assert.Equal(4096, o.MaxTokenSize);
        Assert.False(o.IncludeErrorDetails);
        Assert.Equal("prod", o.ClusterName);
        Assert.Equal(saDirectory, o.ServiceAccountDirectory);
        Assert.True(o.TokenReview.Enabled);
        Assert.True(o.TokenReview.SharedCache);
        Assert.Equal(TimeSpan.FromSeconds(3), o.TokenReview.SharedCacheLocalDuration);
        Assert.Equal(TimeSpan.FromMilliseconds(250), o.TokenReview.SharedCacheTimeout);
        Assert.Equal("https://other.example", services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get("cluster-b").Issuer);
        Assert.Equal("/etc/kubesa/jwks.json", services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get("cluster-b").JwksPath);
    }

    [Fact]
    public void SharedCache_without_a_HybridCache_fails_at_startup_saying_what_to_register()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Authentication:Schemes:cluster-a:Issuer"] = "https://issuer.example",
            ["Authentication:Schemes:cluster-a:Audiences:0"] = "a1",
            ["Authentication:Schemes:cluster-a:TokenReview:Enabled"] = "true",
            ["Authentication:Schemes:cluster-a:TokenReview:SharedCache"] = "true",
        };
        using var services = BuildServices(settings, b => b.AddKubernetesServiceAccount("cluster-a"));

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get("cluster-a"));

        Assert.Contains("'TokenReview:SharedCache' option is on, but no HybridCache is registered", error.Message, StringComparison.Ordinal);
        Assert.Contains("AddHybridCache()", error.Message, StringComparison.Ordinal);
        Assert.Contains("AddStackExchangeRedisCache", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Code_configuration_runs_after_configuration_binding()
    {
        var settings = new Dictionary<string, string?> { ["Authentication:Schemes:KubernetesServiceAccount:Issuer"] = "https://from-config.example" };
        using var services = BuildServices(settings, b => b.AddKubernetesServiceAccount(o => o.Audiences.Add("from-code")));

        var o = services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(KubernetesServiceAccountDefaults.AuthenticationScheme);

        Assert.Equal("https://from-config.example", o.Issuer);
        Assert.Equal(["from-code"], o.Audiences);
    }

    [Theory]
    [InlineData("https://k8s.example", "https://k8s.example/.well-known/openid-configuration")]
    [InlineData("https://k8s.example/", "https://k8s.example/.well-known/openid-configuration")]
    [InlineData("https://oidc.example/id/abc/", "https://oidc.example/id/abc/.well-known/openid-configuration")]
    public void Derives_MetadataAddress_from_the_issuer_without_a_double_slash(string issuer, string expected)
    {
        using var services = BuildServices([], b => b.AddKubernetesServiceAccount(o =>
        {
            o.Issuer = issuer;
            o.Audiences.Add("my-api");
        }));
        var options = services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(KubernetesServiceAccountDefaults.AuthenticationScheme);

        services.GetRequiredService<SchemeRuntimeFactory>().GetOrCreate(KubernetesServiceAccountDefaults.AuthenticationScheme, options);

        Assert.Equal(expected, options.MetadataAddress);
    }

    [Fact]
    public void Keeps_a_configured_MetadataAddress()
    {
        using var services = BuildServices([], b => b.AddKubernetesServiceAccount(o =>
        {
            o.Issuer = "https://k8s.example";
            o.MetadataAddress = "https://k8s.example:6443/.well-known/openid-configuration";
            o.Audiences.Add("my-api");
        }));
        var options = services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(KubernetesServiceAccountDefaults.AuthenticationScheme);

        services.GetRequiredService<SchemeRuntimeFactory>().GetOrCreate(KubernetesServiceAccountDefaults.AuthenticationScheme, options);

        Assert.Equal("https://k8s.example:6443/.well-known/openid-configuration", options.MetadataAddress);
    }

    [Fact]
    public async Task Refuses_to_start_with_an_issuer_that_has_a_double_slash_naming_the_scheme()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddAuthentication().AddKubernetesServiceAccount("cluster-a", o =>
        {
            o.Issuer = "https://oidc.example.com//id/abc";
            o.Audiences.Add("my-api");
        });
        await using var app = builder.Build();

        // Thrown by the options validation the scheme registers (ValidateOnStart), whichever runs first.
        var error = await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync());

        Assert.Contains("Authentication scheme 'cluster-a'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'//'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refuses_to_start_without_audiences_naming_the_scheme_and_the_option()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        // Not the default scheme name: the sample's appsettings.json (copied to the test output) configures that one.
        builder.Services.AddAuthentication().AddKubernetesServiceAccount("cluster-x", o => o.Issuer = "https://k8s.example");
        await using var app = builder.Build();

        // Thrown by the options validation the scheme registers (ValidateOnStart), whichever runs first.
        var error = await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync());

        Assert.Contains("Authentication scheme 'cluster-x'", error.Message, StringComparison.Ordinal);
        Assert.Contains("serviceAccountToken.audience", error.Message, StringComparison.Ordinal);
    }

    private static KubernetesServiceAccountOptions ValidOptions()
    {
        var options = new KubernetesServiceAccountOptions { Issuer = "https://kubernetes.default.svc.cluster.local" };
        options.Audiences.Add("my-api");
        return options;
    }

    private static ServiceProvider BuildServices(Dictionary<string, string?> settings, Action<Microsoft.AspNetCore.Authentication.AuthenticationBuilder> add)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        add(services.AddAuthentication());
        return services.BuildServiceProvider();
    }
}
