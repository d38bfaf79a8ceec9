// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace KubeSaAuth;

/// <summary>
/// Binds <c>Authentication:Schemes:{scheme}</c> (so <c>Authentication__Schemes__KubernetesServiceAccount__Issuer</c>
/// works), as <c>JwtBearerConfigureOptions</c> does. Runs before the code's own configure delegate.
/// </summary>
/// <remarks>
/// Explicit, key by key, instead of the reflection <c>ConfigurationBinder.Bind</c>: that one is trimmed away
/// under Native AOT (every key silently ignored), and the binding source generator cannot skip
/// <c>Backchannel</c> and <c>TimeProvider</c>. A value that does not parse is a startup error naming the key
/// (<see cref="KubernetesServiceAccountOptions.ConfigurationError"/>), never ignored. Collections are added
/// to (configuration first, then code), each value once. Options/OptionsBindingTests fails when an option of
/// a bindable type is not bound here.
/// </remarks>
internal sealed class KubernetesServiceAccountConfigureOptions(IAuthenticationConfigurationProvider configurationProvider)
    : IConfigureNamedOptions<KubernetesServiceAccountOptions>
{
    public void Configure(string? name, KubernetesServiceAccountOptions options)
    {
        if (string.IsNullOrEmpty(name))
        {
            return;
        }

        var section = configurationProvider.GetSchemeConfiguration(name);
        if (!section.GetChildren().Any())
        {
            return;
        }

        Bind(section, options);

        // A key the binder does not read (a JwtBearer habit, a typo) would be silently ignored: stop the start instead.
        options.ConfigurationError ??= KubernetesServiceAccountConfigurationKeys.FindUnknownKey(section);
    }

    public void Configure(KubernetesServiceAccountOptions options) => Configure(Options.DefaultName, options);

    /// <summary>Binds every option from <paramref name="section"/>; the first value that does not parse goes to <see cref="KubernetesServiceAccountOptions.ConfigurationError"/>.</summary>
    internal static void Bind(IConfiguration section, KubernetesServiceAccountOptions o)
    {
        var b = new SectionReader(section);

        // AuthenticationSchemeOptions (the string ones; EventsType, ForwardDefaultSelector, TimeProvider are code only, as is Events).
        b.String(nameof(o.ClaimsIssuer), v => o.ClaimsIssuer = v);
        b.String(nameof(o.ForwardDefault), v => o.ForwardDefault = v);
        b.String(nameof(o.ForwardAuthenticate), v => o.ForwardAuthenticate = v);
        b.String(nameof(o.ForwardChallenge), v => o.ForwardChallenge = v);
        b.String(nameof(o.ForwardForbid), v => o.ForwardForbid = v);
        b.String(nameof(o.ForwardSignIn), v => o.ForwardSignIn = v);
        b.String(nameof(o.ForwardSignOut), v => o.ForwardSignOut = v);

        Bind(section, o.Cluster);
        b.Strings(nameof(o.Audiences), o.Audiences);
        b.Bool(nameof(o.AcceptLegacyTokens), v => o.AcceptLegacyTokens = v);
        b.TimeSpan(nameof(o.ClockSkew), v => o.ClockSkew = v);
        b.Int(nameof(o.MaxTokenSize), v => o.MaxTokenSize = v);
        b.Bool(nameof(o.IncludeErrorDetails), v => o.IncludeErrorDetails = v);
        b.Bool(nameof(o.EnforceWarnAfter), v => o.EnforceWarnAfter = v);
        b.String(nameof(o.ClusterName), v => o.ClusterName = v);
        b.Bool(nameof(o.SaveToken), v => o.SaveToken = v);
        b.String(nameof(o.NameClaimType), v => o.NameClaimType = v);
        b.String(nameof(o.RoleClaimType), v => o.RoleClaimType = v);

        // Clusters:{name}:{option}: each cluster's section is bound when the scheme starts, on a copy of the
        // scheme-level values (so they are its defaults whatever the order), before the code's actions.
        foreach (var cluster in section.GetSection(nameof(o.Clusters)).GetChildren())
        {
            o.Clusters.Add(cluster.Key, c => Bind(cluster, c));
        }

        var cache = b.Section(nameof(o.ValidationCache));
        var c = o.ValidationCache;
        cache.Bool(nameof(c.Enabled), v => c.Enabled = v);
        cache.Int(nameof(c.MaxEntries), v => c.MaxEntries = v);
        cache.TimeSpan(nameof(c.MaxAge), v => c.MaxAge = v);

        o.ConfigurationError ??= b.Error ?? cache.Error;
    }

    /// <summary>
    /// Binds the options of one cluster from <paramref name="section"/> (the scheme's section for its own cluster,
    /// <c>Clusters:{name}</c> for the others); the first value that does not parse goes to
    /// <see cref="KubernetesClusterOptions.ConfigurationError"/>.
    /// </summary>
    internal static void Bind(IConfiguration section, KubernetesClusterOptions o)
    {
        var b = new SectionReader(section);

        // Backchannel, SigningKeys and ConfigurationManager are code only.
        b.String(nameof(o.Issuer), v => o.Issuer = v);
        b.Strings(nameof(o.AdditionalIssuers), o.AdditionalIssuers);
        b.String(nameof(o.MetadataAddress), v => o.MetadataAddress = v);
        b.String(nameof(o.JwksUri), v => o.JwksUri = v);
        b.String(nameof(o.JwksPath), v => o.JwksPath = v);
        b.Bool(nameof(o.RequireHttpsMetadata), v => o.RequireHttpsMetadata = v);
        b.TimeSpan(nameof(o.RefreshInterval), v => o.RefreshInterval = v);
        b.TimeSpan(nameof(o.AutomaticRefreshInterval), v => o.AutomaticRefreshInterval = v);
        b.TimeSpan(nameof(o.MaxKeyFetchWait), v => o.MaxKeyFetchWait = v);
        b.Bool(nameof(o.WarmUpOnStartup), v => o.WarmUpOnStartup = v);
        b.Bool(nameof(o.InCluster), v => o.InCluster = v);
        b.String(nameof(o.ServiceAccountDirectory), v => o.ServiceAccountDirectory = v);
        b.String(nameof(o.BackchannelCaCertificatePath), v => o.BackchannelCaCertificatePath = v);
        b.String(nameof(o.BackchannelTokenPath), v => o.BackchannelTokenPath = v);
        b.TimeSpan(nameof(o.BackchannelTimeout), v => o.BackchannelTimeout = v);
        b.String(nameof(o.BackchannelHttpClientName), v => o.BackchannelHttpClientName = v);

        var review = b.Section(nameof(o.TokenReview));
        var r = o.TokenReview;
        review.Bool(nameof(r.Enabled), v => r.Enabled = v);
        review.String(nameof(r.ApiServer), v => r.ApiServer = v);
        review.TimeSpan(nameof(r.CacheDuration), v => r.CacheDuration = v);
        review.Int(nameof(r.MaxConcurrency), v => r.MaxConcurrency = v);
        review.Bool(nameof(r.FallBackToLocalValidation), v => r.FallBackToLocalValidation = v);
        review.Bool(nameof(r.SharedCache), v => r.SharedCache = v);
        review.TimeSpan(nameof(r.SharedCacheLocalDuration), v => r.SharedCacheLocalDuration = v);
        review.TimeSpan(nameof(r.SharedCacheTimeout), v => r.SharedCacheTimeout = v);

        var view = b.Section(nameof(o.ClusterView));
        var v = o.ClusterView;
        view.Bool(nameof(v.Enabled), x => v.Enabled = x);
        view.String(nameof(v.ApiServer), x => v.ApiServer = x);
        // A cluster's list replaces the scheme-level one it was copied from (the defaults rule: a cluster's value wins),
        // rather than adding to it: a cluster would otherwise watch namespaces its RBAC (a Role per namespace) never granted.
        view.Strings(nameof(v.Namespaces), v.Namespaces, replace: true);
        view.Bool(nameof(v.WatchNamespaces), x => v.WatchNamespaces = x);
        view.Bool(nameof(v.Revocation), x => v.Revocation = x);
        view.Bool(nameof(v.StreamingLists), x => v.StreamingLists = x);
        view.Int(nameof(v.PageSize), x => v.PageSize = x);
        view.TimeSpan(nameof(v.WatchTimeout), x => v.WatchTimeout = x);
        view.TimeSpan(nameof(v.LookupCacheDuration), x => v.LookupCacheDuration = x);
        view.Int(nameof(v.MaxLookupsPerSecond), x => v.MaxLookupsPerSecond = x);

        o.ConfigurationError ??= b.Error ?? review.Error ?? view.Error;
    }

    /// <summary>Reads typed values of one section; parses with the invariant culture, as the reflection binder does.</summary>
    private sealed class SectionReader(IConfiguration section)
    {
        public string? Error { get; private set; }

        public SectionReader Section(string key) => new(section.GetSection(key));

        public void String(string key, Action<string> set)
        {
            if (section[key] is { } value)
            {
                set(value);
            }
        }

        public void Bool(string key, Action<bool> set) =>
            Parse(key, set, static v => bool.TryParse(v, out var b) ? b : null, "'true' or 'false'");

        public void Int(string key, Action<int> set) =>
            Parse(key, set, static v => int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : null, "a whole number");

        public void TimeSpan(string key, Action<TimeSpan> set) =>
            Parse(key, set, static v => System.TimeSpan.TryParse(v, CultureInfo.InvariantCulture, out var t) ? t : null, "a time span (hh:mm:ss, e.g. 00:00:30)");

        /// <summary>
        /// An array (<c>Key:0</c>, <c>Key:1</c>, ...) or a single value; added to <paramref name="target"/> in key order
        /// (after clearing it, with <paramref name="replace"/>, when the key is present).
        /// </summary>
        public void Strings(string key, ICollection<string> target, bool replace = false)
        {
            var child = section.GetSection(key);
            if (replace && child.Exists())
            {
                target.Clear();
            }

            var items = child.GetChildren().ToList();

            // Some providers give the array's own key an empty value next to its items: only a value
            // without items is a single entry.
            if (items.Count == 0 && child.Value is { Length: > 0 } single)
            {
                target.Add(single);
            }

            foreach (var item in items)
            {
                if (item.Value is { } value)
                {
                    target.Add(value);
                }
                else if (item.GetChildren().Any())
                {
                    Fail(item.Path, "is a section; it must be a string");
                }
            }
        }

        private void Parse<T>(string key, Action<T> set, Func<string, T?> parse, string expected)
            where T : struct
        {
            var value = section[key];
            if (value is null)
            {
                return;
            }

            if (parse(value) is { } parsed)
            {
                set(parsed);
            }
            else
            {
                Fail(ConfigurationPath.Combine(PathOf(section), key), $"('{value}') is not {expected}");
            }
        }

        private void Fail(string path, string problem) => Error ??= $"The configuration value '{path}' {problem}.";

        private static string PathOf(IConfiguration configuration) => configuration is IConfigurationSection s ? s.Path : string.Empty;
    }
}
