// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace KubeSaAuth;

/// <summary>
/// Finds the keys of a scheme's configuration section that the binder does not read: a JwtBearer option
/// (<c>Authority</c>, <c>Audience</c>, <c>ValidAudiences</c>, <c>ValidIssuer</c>, <c>TokenValidationParameters</c>, ...)
/// or a misspelt key. Either would be silently ignored, and the scheme would run on its defaults, or refuse
/// every token for a reason the operator cannot see; the start fails instead, naming the key and the option meant.
/// </summary>
/// <remarks>
/// The keys the binder reads are learnt by running it over a recording view of the section, so an option
/// added to <see cref="KubernetesServiceAccountConfigureOptions"/> is known here without a list to keep. Checked:
/// every value directly in the section, and every value of a sub-section the binder reads by key
/// (<c>TokenReview</c>, <c>ValidationCache</c>). A sub-section the binder does not read by key (<c>Clusters</c>,
/// <c>ClusterView</c>, bound by their parts) is left to its own binder.
/// </remarks>
internal static class KubernetesServiceAccountConfigurationKeys
{
    /// <summary>JwtBearer's option names (and the TokenValidationParameters members people put beside them), with what to use here.</summary>
    private static readonly Dictionary<string, string> JwtBearerKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Authority"] = "'Issuer' (the cluster's service-account issuer; discovery is read from '{Issuer}/.well-known/openid-configuration', or from 'MetadataAddress')",
        ["Audience"] = "'Audiences' (an array: 'Audiences:0')",
        ["ValidAudience"] = "'Audiences' (an array: 'Audiences:0')",
        ["ValidAudiences"] = "'Audiences'",
        ["ValidIssuer"] = "'Issuer'",
        ["ValidIssuers"] = "'Issuer' (the one discovery names) and 'AdditionalIssuers' (the others)",
        ["TokenValidationParameters"] = "'Issuer' / 'Audiences' (and 'ClockSkew', 'NameClaimType', 'RoleClaimType'): the rules are set by these options, not by TokenValidationParameters",
        ["MapInboundClaims"] = "nothing: the claims are Kubernetes' own (docs/claims.md); 'NameClaimType' and 'RoleClaimType' choose the name and role claims",
        ["RefreshOnIssuerKeyNotFound"] = "nothing: an unknown kid always causes one key fetch per 'RefreshInterval'",
        ["UseSecurityTokenValidators"] = "nothing: tokens are read by KubeSaAuth's own reader",
        ["Challenge"] = "nothing: the challenge is always 'Bearer' (RFC 6750)",
    };

    /// <summary>The error for the first key the binder does not read, or <see langword="null"/> when there is none.</summary>
    public static string? FindUnknownKey(IConfiguration section)
    {
        var recorder = new Recorder();
        KubernetesServiceAccountConfigureOptions.Bind(new RecordingConfiguration(section, recorder, string.Empty), new KubernetesServiceAccountOptions());
        foreach (var child in section.GetChildren())
        {
            // A sub-section the binder reads by key (TokenReview, ValidationCache): its values are checked as well.
            if (recorder.Owned.TryGetValue(child.Key, out var keys))
            {
                foreach (var grandchild in child.GetChildren())
                {
                    if (!keys.Contains(grandchild.Key) && grandchild.Value is not null && !grandchild.GetChildren().Any())
                    {
                        return Unknown(grandchild.Path, grandchild.Key, keys);
                    }
                }

                continue;
            }

            if (recorder.Read.Contains(child.Key))
            {
                continue;
            }

            if (JwtBearerKeys.TryGetValue(child.Key, out var meant))
            {
                return $"The configuration key '{child.Path}' is a JwtBearer option that the Kubernetes service-account handler does not read; did you mean {meant}? See the JwtBearer table in docs/configuration.md.";
            }

            if (child.Value is not null && !child.GetChildren().Any())
            {
                return Unknown(child.Path, child.Key, recorder.Read);
            }

            // A misspelt sub-section ('TokenRevew:Enabled'); any other is another part's (Clusters, ClusterView).
            if (Closest(child.Key, recorder.Sections) is { } meantSection)
            {
                return $"The configuration section '{child.Path}' is not one the Kubernetes service-account handler reads; did you mean '{meantSection}'?";
            }
        }

        return null;
    }

    private static string Unknown(string path, string key, IReadOnlyCollection<string> known)
    {
        var suggestion = Closest(key, known);
        return suggestion is null
            ? $"The configuration key '{path}' is not an option of the Kubernetes service-account handler; remove it (docs/configuration.md lists every key)."
            : $"The configuration key '{path}' is not an option of the Kubernetes service-account handler; did you mean '{suggestion}'?";
    }

    /// <summary>The known key nearest to <paramref name="key"/> (case-insensitive edit distance), if it is near enough to be a typo.</summary>
    internal static string? Closest(string key, IEnumerable<string> known)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in known)
        {
            var distance = Distance(key.ToUpperInvariant(), candidate.ToUpperInvariant());
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }

        // A third of the key's letters (at least 2): "Audience" → "Audiences", "Isuer" → "Issuer", not "Foo" → "Issuer".
        return bestDistance <= Math.Max(2, key.Length / 3) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }

    /// <summary>What the binder looked at: top-level keys read (by value or as a section), and the keys read inside each sub-section it reads by key.</summary>
    private sealed class Recorder
    {
        public HashSet<string> Read { get; } = new(StringComparer.OrdinalIgnoreCase);

        public HashSet<string> Sections { get; } = new(StringComparer.OrdinalIgnoreCase);

        public Dictionary<string, HashSet<string>> Owned { get; } = new(StringComparer.OrdinalIgnoreCase);

        public void Record(string parent, string key)
        {
            if (parent.Length == 0)
            {
                Read.Add(key);
                return;
            }

            // Only the first level below the section: 'TokenReview:Enabled', 'ValidationCache:MaxEntries'.
            if (!parent.Contains(':', StringComparison.Ordinal))
            {
                if (!Owned.TryGetValue(parent, out var keys))
                {
                    Owned[parent] = keys = new(StringComparer.OrdinalIgnoreCase);
                }

                keys.Add(key);
            }
        }
    }

    /// <summary>A view of a section that records every key read from it, relative to the scheme's section.</summary>
    private sealed class RecordingConfiguration(IConfiguration inner, Recorder recorder, string relativePath) : IConfigurationSection
    {
        public string? this[string key]
        {
            get
            {
                recorder.Record(relativePath, key);
                return inner[key];
            }

            set => throw new NotSupportedException();
        }

        public string Key => inner is IConfigurationSection s ? s.Key : string.Empty;

        public string Path => inner is IConfigurationSection s ? s.Path : string.Empty;

        public string? Value
        {
            get => inner is IConfigurationSection s ? s.Value : null;
            set => throw new NotSupportedException();
        }

        public IEnumerable<IConfigurationSection> GetChildren() => inner.GetChildren();

        public IChangeToken GetReloadToken() => inner.GetReloadToken();

        public IConfigurationSection GetSection(string key)
        {
            // A section asked for by name (an array, a nested option object) is a key the binder knows.
            if (relativePath.Length == 0)
            {
                recorder.Read.Add(key);
                recorder.Sections.Add(key);
            }

            return new RecordingConfiguration(inner.GetSection(key), recorder, relativePath.Length == 0 ? key : ConfigurationPath.Combine(relativePath, key));
        }
    }
}
