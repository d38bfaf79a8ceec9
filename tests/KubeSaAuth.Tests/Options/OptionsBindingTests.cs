// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Reflection;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Tests.Options;

/// <summary>
/// The explicit (AOT-safe) binder of <c>Authentication:Schemes:{scheme}</c>: every option bound, bad values
/// reported with their key, collections the union of configuration and code.
/// </summary>
public sealed class OptionsBindingTests
{
    private const string Scheme = "cluster-a";

    // Properties that configuration cannot express: set in code only (docs/configuration.md says so).
    private static readonly HashSet<string> CodeOnly = ["Backchannel", "TimeProvider", "EventsType", "ForwardDefaultSelector", "Events", "SigningKeys", "ConfigurationManager"];

    [Fact]
    public void Every_settable_option_of_a_bindable_type_is_bound_from_configuration()
    {
        var expected = new List<(string Key, Func<object, object?> Read, object Value)>();
        var settings = new Dictionary<string, string?>();
        var unknown = new List<string>();
        Collect(typeof(KubernetesServiceAccountOptions), prefix: string.Empty, o => o, new KubernetesServiceAccountOptions(), expected, settings, unknown);
        Assert.True(unknown.Count == 0, $"Options of a type this test does not know (bind them, then teach the test): {string.Join(", ", unknown)}");

        var options = Configure(settings);

        Assert.Null(options.ConfigurationError);
        var unbound = expected
            .Where(e => !ValueEquals(e.Value, e.Read(options)))
            .Select(e => e.Key)
            .ToList();
        Assert.True(unbound.Count == 0, $"Not bound from configuration (add them to KubernetesServiceAccountConfigureOptions.Bind): {string.Join(", ", unbound)}");
        Assert.True(expected.Count >= 30, $"Only {expected.Count} options found: the reflection walk is broken.");
    }

    [Fact]
    public void Every_settable_option_of_a_cluster_is_bound_from_its_section()
    {
        var expected = new List<(string Key, Func<object, object?> Read, object Value)>();
        var settings = new Dictionary<string, string?>();
        var unknown = new List<string>();
        Collect(typeof(KubernetesClusterOptions), prefix: string.Empty, o => o, new KubernetesClusterOptions(), expected, settings, unknown);
        Assert.True(unknown.Count == 0, $"Options of a type this test does not know (bind them, then teach the test): {string.Join(", ", unknown)}");
        var section = new ConfigurationBuilder().AddInMemoryCollection(settings).Build().GetSection($"Authentication:Schemes:{Scheme}");
        var cluster = new KubernetesClusterOptions();

        KubernetesServiceAccountConfigureOptions.Bind(section, cluster);

        Assert.Null(cluster.ConfigurationError);
        var unbound = expected.Where(e => !ValueEquals(e.Value, e.Read(cluster))).Select(e => e.Key).ToList();
        Assert.True(unbound.Count == 0, $"Not bound from a cluster's section (add them to KubernetesServiceAccountConfigureOptions.Bind(IConfiguration, KubernetesClusterOptions)): {string.Join(", ", unbound)}");
        Assert.True(expected.Count >= 20, $"Only {expected.Count} options found: the reflection walk is broken.");
    }

    [Fact]
    public void Every_cluster_option_is_also_an_option_of_the_scheme_that_sets_its_own_cluster()
    {
        var clusterOptions = typeof(KubernetesClusterOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name);
        var schemeOptions = typeof(KubernetesServiceAccountOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name).ToHashSet();

        var missing = clusterOptions.Where(name => !schemeOptions.Contains(name)).ToList();
        Assert.True(missing.Count == 0, $"Cluster options with no scheme-level property: {string.Join(", ", missing)}");
    }

    [Fact]
    public void An_audience_added_in_code_that_configuration_names_is_there_once()
    {
        var options = Configure(new() { [$"Authentication:Schemes:{Scheme}:Audiences:0"] = "reports-api" }, o => o.Audiences.Add("reports-api"));

        Assert.Equal(["reports-api"], options.Audiences);
    }

    [Fact]
    public void Collections_are_configuration_then_code_each_value_once()
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Authentication:Schemes:{Scheme}:Audiences:0"] = "a",
            [$"Authentication:Schemes:{Scheme}:Audiences:1"] = "b",
            [$"Authentication:Schemes:{Scheme}:Audiences:2"] = "a",
            [$"Authentication:Schemes:{Scheme}:AdditionalIssuers:0"] = "https://old.example",
        };

        var options = Configure(settings, o =>
        {
            o.Audiences.Add("c");
            o.Audiences.Add("b");
            o.AdditionalIssuers.Add("https://older.example");
            o.AdditionalIssuers.Add("https://old.example");
        });

        Assert.Equal(["a", "b", "c"], options.Audiences);
        Assert.Equal(["https://old.example", "https://older.example"], options.AdditionalIssuers);
    }

    [Fact]
    public void Code_that_clears_a_collection_replaces_configuration()
    {
        var options = Configure(new() { [$"Authentication:Schemes:{Scheme}:Audiences:0"] = "from-config" }, o =>
        {
            o.Audiences.Clear();
            o.Audiences.Add("from-code");
        });

        Assert.Equal(["from-code"], options.Audiences);
    }

    [Fact]
    public void A_single_value_binds_as_a_one_element_collection()
    {
        // Authentication__Schemes__cluster-a__Audiences=reports-api (no __0): the reflection binder ignored it.
        var options = Configure(new() { [$"Authentication:Schemes:{Scheme}:Audiences"] = "reports-api" });

        Assert.Equal(["reports-api"], options.Audiences);
    }

    [Fact]
    public void An_empty_value_beside_the_items_of_an_array_is_not_an_entry()
    {
        var options = Configure(new()
        {
            [$"Authentication:Schemes:{Scheme}:Audiences"] = string.Empty,
            [$"Authentication:Schemes:{Scheme}:Audiences:0"] = "reports-api",
        });

        Assert.Equal(["reports-api"], options.Audiences);
    }

    [Theory]
    [InlineData("ClockSkew", "30s", "is not a time span (hh:mm:ss")]
    [InlineData("RequireHttpsMetadata", "yes", "is not 'true' or 'false'")]
    [InlineData("MaxTokenSize", "4k", "is not a whole number")]
    [InlineData("TokenReview:CacheDuration", "ten seconds", "is not a time span")]
    [InlineData("TokenReview:Enabled", "on", "is not 'true' or 'false'")]
    [InlineData("ValidationCache:MaxEntries", "1e4", "is not a whole number")]
    public void A_value_that_does_not_parse_stops_the_start_naming_the_key(string key, string value, string problem)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Authentication:Schemes:{Scheme}:Issuer"] = "https://issuer.example",
            [$"Authentication:Schemes:{Scheme}:Audiences:0"] = "a1",
            [$"Authentication:Schemes:{Scheme}:{key}"] = value,
        };
        using var services = BuildServices(settings, _ => { });

        // The scheme's own validation (Validate(scheme)), run when the options are first built — at startup (ValidateOnStart).
        var error = Assert.ThrowsAny<InvalidOperationException>(() => services.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(Scheme));

        Assert.Contains($"Authentication scheme '{Scheme}': The configuration value 'Authentication:Schemes:{Scheme}:{key}' ('{value}') {problem}", error.Message, StringComparison.Ordinal);
    }

    private static void Collect(
        Type type,
        string prefix,
        Func<object, object> owner,
        object defaults,
        List<(string Key, Func<object, object?> Read, object Value)> expected,
        Dictionary<string, string?> settings,
        List<string> unknown)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var key = prefix + property.Name;
            if (CodeOnly.Contains(key) || property.GetIndexParameters().Length > 0)
            {
                continue;
            }

            var read = (Func<object, object?>)(o => property.GetValue(owner(o)));
            var settable = property.SetMethod?.IsPublic == true;
            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (propertyType == typeof(ICollection<string>) || propertyType == typeof(IList<string>))
            {
                settings[$"Authentication:Schemes:{Scheme}:{key}:0"] = $"{key}-first";
                settings[$"Authentication:Schemes:{Scheme}:{key}:1"] = $"{key}-second";
                expected.Add((key, read, new[] { $"{key}-first", $"{key}-second" }));
            }
            else if (!settable && propertyType.IsClass && propertyType.Assembly == typeof(KubernetesServiceAccountOptions).Assembly)
            {
                // A nested options object (TokenReview, ValidationCache): its own section.
                var nestedDefaults = property.GetValue(defaults)!;
                Collect(propertyType, key + ":", o => property.GetValue(owner(o))!, nestedDefaults, expected, settings, unknown);
            }
            else if (!settable)
            {
                continue;
            }
            else if (TryPickValue(propertyType, property.GetValue(defaults), key, out var value, out var text))
            {
                settings[$"Authentication:Schemes:{Scheme}:{key}"] = text;
                expected.Add((key, read, value));
            }
            else
            {
                unknown.Add($"{key} ({property.PropertyType.Name})");
            }
        }
    }

    /// <summary>A value unlike the default, and how configuration writes it.</summary>
    private static bool TryPickValue(Type type, object? current, string key, out object value, out string text)
    {
        switch (current)
        {
            case var _ when type == typeof(string):
                value = $"value-of-{key.Replace(':', '-')}";
                break;
            case var _ when type == typeof(bool):
                value = !(bool)(current ?? false);
                break;
            case var _ when type == typeof(int):
                value = (int)(current ?? 0) + 7;
                break;
            case var _ when type == typeof(long):
                value = (long)(current ?? 0L) + 7;
                break;
            case var _ when type == typeof(double):
                value = (double)(current ?? 0d) + 0.5;
                break;
            case var _ when type == typeof(TimeSpan):
                value = (TimeSpan)(current ?? TimeSpan.Zero) + TimeSpan.FromMilliseconds(17_250);
                break;
            case var _ when type == typeof(Uri):
                value = new Uri($"https://{key.Replace(':', '-').ToLowerInvariant()}.example/");
                break;
            case var _ when type.IsEnum:
                var values = Enum.GetValues(type).Cast<object>().Where(v => !v.Equals(current)).ToList();
                value = values.Count > 0 ? values[^1] : Enum.ToObject(type, 0);
                break;
            default:
                value = null!;
                text = null!;
                return false;
        }

        text = value is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : value.ToString()!;
        return true;
    }

    private static bool ValueEquals(object expected, object? actual) =>
        expected is string[] list ? actual is IEnumerable<string> items && items.SequenceEqual(list) : expected.Equals(actual);

    private static KubernetesServiceAccountOptions Configure(Dictionary<string, string?> settings, Action<KubernetesServiceAccountOptions>? code = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var options = new KubernetesServiceAccountOptions();
        new KubernetesServiceAccountConfigureOptions(new ConfigurationProvider(configuration.GetSection("Authentication"))).Configure(Scheme, options);
        code?.Invoke(options);
        return options;
    }

    private static ServiceProvider BuildServices(Dictionary<string, string?> settings, Action<KubernetesServiceAccountOptions> code)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddAuthentication().AddKubernetesServiceAccount(Scheme, code);
        return services.BuildServiceProvider();
    }

    private sealed class ConfigurationProvider(IConfiguration authentication) : IAuthenticationConfigurationProvider
    {
        public IConfiguration AuthenticationConfiguration => authentication;
    }
}
