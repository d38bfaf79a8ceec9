// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace KubeSaAuth.Tests.Clusters;

/// <summary>
/// <c>Clusters</c>: the clusters of one scheme, bound from <c>Clusters:{name}:{option}</c>, each built on a copy of
/// the scheme-level values (the defaults rule), and refused at start with the key to fix.
/// </summary>
public sealed class ClusterOptionsTests
{
    private const string Scheme = "k8s";

    // Who a cluster is (and where its API server is): never a default of another cluster.
    private static readonly HashSet<string> NotInherited =
        ["Issuer", "AdditionalIssuers", "MetadataAddress", "JwksUri", "JwksPath", "SigningKeys", "ConfigurationManager", "InCluster", "TokenReview:ApiServer", "ClusterView:ApiServer"];

    [Fact]
    public void Every_per_cluster_option_but_the_identity_is_copied_to_every_cluster()
    {
        var scheme = new KubernetesClusterOptions();
        var expected = new Dictionary<string, (Func<KubernetesClusterOptions, object?> Read, object? Value)>();
        foreach (var (key, owner, property) in Walk(typeof(KubernetesClusterOptions), string.Empty, o => o))
        {
            var target = owner(scheme);
            var value = Different(property.PropertyType, property.GetValue(target));
            if (property.SetMethod?.IsPublic == true)
            {
                property.SetValue(target, value);
            }
            else if (property.GetValue(target) is ICollection<Microsoft.IdentityModel.Tokens.SecurityKey> keys)
            {
                keys.Add(new Microsoft.IdentityModel.Tokens.RsaSecurityKey(System.Security.Cryptography.RSA.Create(2048)));
                value = keys;
            }
            else if (value is string text && property.GetValue(target) is ICollection<string> strings)
            {
                strings.Add(text);
                value = strings;
            }
            else
            {
                Assert.Fail($"Option {key} ({property.PropertyType.Name}): teach this test to set it.");
            }

            expected[key] = (o => property.GetValue(owner(o)), value);
        }

        var copy = new KubernetesClusterOptions();
        scheme.CopyDefaultsTo(copy);

        var pristine = new KubernetesClusterOptions();
        foreach (var (key, (read, value)) in expected)
        {
            if (NotInherited.Contains(key))
            {
                Assert.True(Same(read(pristine), read(copy)), $"'{key}' says who a cluster is: it must not be a default of the others.");
            }
            else
            {
                Assert.True(Same(value, read(copy)), $"'{key}' is not copied to the clusters (KubernetesClusterOptions.CopyDefaultsTo).");
            }
        }

        Assert.True(expected.Count >= 25, $"Only {expected.Count} options found: the reflection walk is broken.");
    }

    [Fact]
    public void A_scheme_level_value_is_the_default_of_every_cluster_whatever_the_order()
    {
        var options = Build(new() { [$"Authentication:Schemes:{Scheme}:Clusters:from-config:Issuer"] = "https://config.example" }, o =>
        {
            o.Audiences.Add("api");
            o.Clusters.Add("from-code", c => c.Issuer = "https://code.example");

            // Set after the clusters were added, and after configuration bound theirs.
            o.RefreshInterval = TimeSpan.FromSeconds(42);
            o.TokenReview.CacheDuration = TimeSpan.FromSeconds(7);
            o.BackchannelTimeout = TimeSpan.FromSeconds(3);
        });

        var clusters = options.GetClusters(Scheme);

        Assert.Equal(["from-config", "from-code"], clusters.Select(c => c.Name));
        Assert.All(clusters, c =>
        {
            Assert.Equal(TimeSpan.FromSeconds(42), c.Options.RefreshInterval);
            Assert.Equal(TimeSpan.FromSeconds(7), c.Options.TokenReview.CacheDuration);
            Assert.Equal(TimeSpan.FromSeconds(3), c.Options.BackchannelTimeout);
            Assert.Equal(["api"], c.Options.Audiences);
            Assert.Equal(c.Name, c.Options.ClusterName);
        });
        Assert.Equal("https://config.example", clusters[0].Options.Issuer);
        Assert.Equal("https://code.example", clusters[1].Options.Issuer);
    }

    [Fact]
    public void A_cluster_value_wins_over_the_scheme_level_default_and_code_over_configuration()
    {
        var options = Build(
            new()
            {
                [$"Authentication:Schemes:{Scheme}:RefreshInterval"] = "00:00:30",
                [$"Authentication:Schemes:{Scheme}:Clusters:prod-eu:Issuer"] = "https://eu.example",
                [$"Authentication:Schemes:{Scheme}:Clusters:prod-eu:RefreshInterval"] = "00:00:20",
                [$"Authentication:Schemes:{Scheme}:Clusters:prod-eu:TokenReview:Enabled"] = "true",
                [$"Authentication:Schemes:{Scheme}:Clusters:prod-eu:TokenReview:ApiServer"] = "https://eu-api.example:6443",
            },
            o =>
            {
                o.Audiences.Add("api");
                o.Clusters.Add("PROD-EU", c => c.RefreshInterval = TimeSpan.FromSeconds(15));
                o.Clusters.Add("prod-us", c => c.Issuer = "https://us.example");
            });

        var clusters = options.GetClusters(Scheme).ToDictionary(c => c.Name, c => c.Options);

        Assert.Equal(2, clusters.Count);
        Assert.Equal(TimeSpan.FromSeconds(15), clusters["prod-eu"].RefreshInterval);
        Assert.True(clusters["prod-eu"].TokenReview.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(30), clusters["prod-us"].RefreshInterval);
        Assert.False(clusters["prod-us"].TokenReview.Enabled);
    }

    [Fact]
    public void A_scheme_level_issuer_beside_Clusters_is_one_more_cluster_named_ClusterName_and_no_default()
    {
        var options = Build([], o =>
        {
            o.Audiences.Add("api");
            o.Issuer = "https://home.example";
            o.ClusterName = "home";
            o.Clusters.Add("remote", c => c.Issuer = "https://remote.example");
        });

        var clusters = options.GetClusters(Scheme);

        Assert.Equal(["home", "remote"], clusters.Select(c => c.Name));
        Assert.Same(options, clusters[0].Options);
        Assert.Equal("https://remote.example", clusters[1].Options.Issuer);
        Assert.Null(options.GetValidationError(Scheme));
    }

    [Fact]
    public void Without_a_scheme_level_issuer_the_scheme_is_only_its_Clusters()
    {
        var options = Build([], o =>
        {
            o.Audiences.Add("api");
            o.Clusters.Add("a", c => c.Issuer = "https://a.example");
        });

        Assert.Equal(["a"], options.GetClusters(Scheme).Select(c => c.Name));
        Assert.Null(options.GetValidationError(Scheme));
    }

    [Theory]
    [InlineData("RefreshInterval", "00:00:00", "'Clusters:prod-eu:RefreshInterval' option")]
    [InlineData("MetadataAddress", "not a url", "'Clusters:prod-eu:MetadataAddress' option")]
    [InlineData("TokenReview:MaxConcurrency", "0", "'Clusters:prod-eu:TokenReview:MaxConcurrency' option")]
    [InlineData("RefreshInterval", "soon", "'Authentication:Schemes:k8s:Clusters:prod-eu:RefreshInterval' ('soon') is not a time span")]
    public void A_cluster_whose_options_cannot_work_stops_the_start_naming_the_cluster_and_the_option(string key, string value, string expected)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Authentication:Schemes:{Scheme}:Audiences:0"] = "api",
            [$"Authentication:Schemes:{Scheme}:Clusters:prod-us:Issuer"] = "https://us.example",
            [$"Authentication:Schemes:{Scheme}:Clusters:prod-eu:Issuer"] = "https://eu.example",
            [$"Authentication:Schemes:{Scheme}:Clusters:prod-eu:{key}"] = value,
        };

        var error = StartError(settings, _ => { });

        Assert.Contains($"Authentication scheme '{Scheme}'", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cluster_without_an_issuer_stops_the_start_naming_its_Issuer_key()
    {
        var error = StartError(new() { [$"Authentication:Schemes:{Scheme}:Audiences:0"] = "api" }, o => o.Clusters.Add("prod-eu", c => c.RefreshInterval = TimeSpan.FromSeconds(5)));

        Assert.Contains("The 'Clusters:prod-eu:Issuer' option", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_clusters_naming_the_same_issuer_stop_the_start()
    {
        var error = StartError(new() { [$"Authentication:Schemes:{Scheme}:Audiences:0"] = "api" }, o =>
        {
            o.Clusters.Add("a", c => c.Issuer = "https://same.example");
            o.Clusters.Add("b", c =>
            {
                c.Issuer = "https://b.example";
                c.AdditionalIssuers.Add("https://same.example");
            });
        });

        Assert.Contains("'Clusters:b:AdditionalIssuers' option ('https://same.example') is also an issuer of cluster 'a'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cluster_named_as_the_schemes_own_cluster_stops_the_start()
    {
        var error = StartError(new() { [$"Authentication:Schemes:{Scheme}:Audiences:0"] = "api" }, o =>
        {
            o.Issuer = "https://home.example";
            o.Clusters.Add(Scheme, c => c.Issuer = "https://other.example");
        });

        Assert.Contains($"The cluster name '{Scheme}'", error, StringComparison.Ordinal);
    }

    private static IEnumerable<(string Key, Func<KubernetesClusterOptions, object> Owner, PropertyInfo Property)> Walk(Type type, string prefix, Func<KubernetesClusterOptions, object> owner)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var propertyType = property.PropertyType;
            if (property.SetMethod?.IsPublic != true && propertyType.IsClass && propertyType.Assembly == typeof(KubernetesClusterOptions).Assembly)
            {
                foreach (var nested in Walk(propertyType, prefix + property.Name + ":", o => property.GetValue(owner(o))!))
                {
                    yield return nested;
                }
            }
            else
            {
                yield return (prefix + property.Name, owner, property);
            }
        }
    }

    /// <summary>A value unlike <paramref name="current"/> (for a collection of strings: an item to add).</summary>
    private static object? Different(Type type, object? current) => type switch
    {
        _ when type == typeof(string) => "value-" + Guid.NewGuid().ToString("N"),
        _ when type == typeof(bool) => !(bool)current!,
        _ when type == typeof(int) => (int)current! + 7,
        _ when type == typeof(TimeSpan) => (TimeSpan)current! + TimeSpan.FromMilliseconds(17_250),
        _ when type == typeof(HttpClient) => new HttpClient(),
        _ when type == typeof(IConfigurationManager<OpenIdConnectConfiguration>) => new StaticConfigurationManager<OpenIdConnectConfiguration>(new OpenIdConnectConfiguration()),
        _ when type == typeof(ICollection<string>) => "https://item.example",
        _ when type == typeof(ICollection<Microsoft.IdentityModel.Tokens.SecurityKey>) => "(a key)",
        _ => throw new InvalidOperationException($"teach the test a value of {type.Name}"),
    };

    private static bool Same(object? expected, object? actual) =>
        expected is IEnumerable<string> a && actual is IEnumerable<string> b ? a.SequenceEqual(b)
        : expected is System.Collections.ICollection c && actual is System.Collections.ICollection d ? c.Count == d.Count
        : Equals(expected, actual);

    private static KubernetesServiceAccountOptions Build(Dictionary<string, string?> settings, Action<KubernetesServiceAccountOptions> code)
    {
        using var services = Services(settings, code);
        return services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(Scheme);
    }

    private static string StartError(Dictionary<string, string?> settings, Action<KubernetesServiceAccountOptions> code)
    {
        using var services = Services(settings, code);

        // What ValidateOnStart runs when the host starts.
        return Assert.ThrowsAny<Exception>(() => services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(Scheme)).Message;
    }

    private static ServiceProvider Services(Dictionary<string, string?> settings, Action<KubernetesServiceAccountOptions> code)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddAuthentication().AddKubernetesServiceAccount(Scheme, code);
        return services.BuildServiceProvider();
    }
}
