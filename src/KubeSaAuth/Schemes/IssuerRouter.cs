// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Frozen;
using KubeSaAuth.Keys;
using KubeSaAuth.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Schemes;

/// <summary>
/// Which cluster (of which Kubernetes scheme) judges a token, decided from its <c>iss</c> before any key work:
/// one lookup in a frozen map of every cluster's <c>Issuer</c> and <c>AdditionalIssuers</c> (or, for a cluster
/// with no <c>Issuer</c>, the issuer its discovery document names). Every other scheme leaves the token alone
/// (NoResult), and every other cluster never sees it, so one cluster's outage never slows or fails another's callers.
/// </summary>
internal sealed class IssuerRouter(
    IAuthenticationSchemeProvider schemes,
    IOptionsMonitor<KubernetesServiceAccountOptions> options,
    SchemeRuntimeFactory runtimes)
{
    /// <summary>How many accepted issuers the log detail of an unclaimed token names (then a count).</summary>
    internal const int LoggedIssuers = 5;

    private readonly object _gate = new();
    private volatile Table? _table;

    /// <summary>The Kubernetes schemes, in registration order.</summary>
    public async ValueTask<IReadOnlyList<string>> GetSchemesAsync() => (await GetTableAsync().ConfigureAwait(false)).Names;

    /// <summary>Routes a token that <paramref name="scheme"/> read; <paramref name="parsed"/> is <see langword="null"/> when it could not be read.</summary>
    public async ValueTask<Route> RouteAsync(string scheme, ParsedToken? parsed, CancellationToken cancellationToken = default)
    {
        var table = await GetTableAsync().ConfigureAwait(false);
        if (parsed is not { } token)
        {
            return Route.Unroutable;
        }

        var payload = token.Payload;
        var shape = payload.Kubernetes is not null ? TokenShape.Bound
            : payload.LegacyNamespace is not null || payload.LegacyServiceAccountName is not null || payload.LegacySecretName is not null || payload.LegacyServiceAccountUid is not null ? TokenShape.Legacy
            : TokenShape.Foreign;
        if (shape == TokenShape.Legacy)
        {
            // Every cluster signs legacy tokens as 'kubernetes/serviceaccount': they cannot be routed by
            // issuer, only to the schemes that accept them at all, and there to the cluster holding the kid.
            if (table.LegacySchemes.Length == 0)
            {
                return Route.Nobody(shape);
            }

            if (Array.IndexOf(table.LegacySchemes, scheme) < 0)
            {
                return Route.Other(table.LegacySchemes);
            }

            var keyId = token.Header.KeyId;
            return Route.Mine(LegacyCluster(table, scheme, keyId, out var first)
                ?? (keyId is null || first is null ? first : await FindLegacyClusterAsync(table, scheme, keyId, first, cancellationToken).ConfigureAwait(false)));
        }

        var issuer = payload.Issuer;
        if (issuer is not null && table.ByIssuer.TryGetValue(issuer, out var claimants))
        {
            foreach (var claimant in claimants)
            {
                if (string.Equals(claimant.Scheme, scheme, StringComparison.Ordinal))
                {
                    return Route.Mine(claimant.Cluster);
                }
            }

            return Route.Other(SchemesOf(claimants));
        }

        // No configured issuer names it: ask the clusters that know their issuer only from discovery.
        List<Entry>? discovered = null;
        List<Entry>? pending = null;
        foreach (var entry in table.DiscoveryOnly)
        {
            var current = entry.Cluster?.Keys.Current;
            if (current?.DiscoveredIssuer is { } known)
            {
                if (string.Equals(known, issuer, StringComparison.Ordinal))
                {
                    (discovered ??= []).Add(entry);
                }
            }
            else
            {
                (pending ??= []).Add(entry);
            }
        }

        if (discovered is not null)
        {
            return discovered.Find(e => e.Scheme == scheme) is { } mine ? Route.Mine(mine.Cluster) : Route.Other(SchemesOf(discovered));
        }

        if (pending is not null)
        {
            // Its issuer is not known until its discovery document arrives: it must wait for it to know.
            return pending.Find(e => e.Scheme == scheme) is { } waiting ? Route.Pending(waiting.Cluster) : Route.Other(SchemesOf(pending));
        }

        return Route.Nobody(shape);
    }

    /// <summary>
    /// The refusal of a bound token whose issuer no cluster accepts. The description names the token's issuer
    /// only; the accepted ones (the first few and a count) go to its log detail, for the operator.
    /// </summary>
    public async ValueTask<TokenFailure> RefuseUnclaimedAsync(ParsedToken parsed)
    {
        var table = await GetTableAsync().ConfigureAwait(false);
        var accepted = new List<string>();
        var count = 0;
        foreach (var entry in table.Entries)
        {
            var own = entry.Issuers.Count > 0 ? entry.Issuers
                : entry.Cluster?.Keys.Current?.DiscoveredIssuer is { } known ? [known]
                : [$"(not yet discovered, cluster {entry.Cluster?.Name ?? entry.Scheme})"];
            foreach (var issuer in own)
            {
                count++;
                if (accepted.Count < LoggedIssuers)
                {
                    accepted.Add($"'{issuer}'");
                }
            }
        }

        var payload = parsed.Payload;
        // The caller learns only that its issuer is not accepted; the accepted ones (bounded) go to the log.
        var detail = count == 1
            ? $"the configured issuer is {accepted[0]}"
            : $"the accepted issuers are [{string.Join(", ", accepted)}{(count > accepted.Count ? ", ..." : string.Empty)}] ({count} in all)";
        var k = payload.Kubernetes;
        return new TokenFailure(KubernetesTokenFailureReason.InvalidIssuer, KubernetesTokenValidator.IssuerNotAccepted(payload.Issuer), parsed.Header.KeyId, payload.Issuer,
            k?.Namespace, k?.ServiceAccount?.Name, payload.Audiences, IsLegacy: false, Detail: detail);
    }

    /// <summary>The scheme's cluster whose keys in hand hold <paramref name="keyId"/>, if any; <paramref name="first"/> is the scheme's first cluster.</summary>
    private static ClusterRuntime? LegacyCluster(Table table, string scheme, string? keyId, out ClusterRuntime? first)
    {
        first = null;
        var count = 0;
        ClusterRuntime? holder = null;
        foreach (var entry in table.Entries)
        {
            if (!string.Equals(entry.Scheme, scheme, StringComparison.Ordinal) || entry.Cluster is not { } cluster)
            {
                continue;
            }

            first ??= cluster;
            count++;
            if (holder is null && keyId is not null && cluster.Keys.Current is { } keys && keys.FindByKeyId(keyId).Length > 0)
            {
                holder = cluster;
            }
        }

        // One cluster judges every legacy token of its scheme (its validator fetches for an unknown kid itself).
        return count == 1 ? first : holder;
    }

    /// <summary>
    /// No cluster's keys in hand hold the legacy token's kid: each of the scheme's clusters gets (a cold one) or
    /// refreshes (a warm one, at most once per <c>RefreshInterval</c>) its keys, in parallel, each waiting at most
    /// its own <c>MaxKeyFetchWait</c>. The first whose keys hold the kid judges, without waiting for the others (a
    /// cluster in trouble delays no other's callers); if none does, the first cluster refuses the unknown key.
    /// </summary>
    private static async ValueTask<ClusterRuntime> FindLegacyClusterAsync(Table table, string scheme, string keyId, ClusterRuntime first, CancellationToken cancellationToken)
    {
        var fetches = new Dictionary<Task<KeySet?>, ClusterRuntime>();
        foreach (var entry in table.Entries)
        {
            if (string.Equals(entry.Scheme, scheme, StringComparison.Ordinal) && entry.Cluster is { } cluster)
            {
                var seen = cluster.Keys.Current;
                var fetch = seen is null ? cluster.Keys.GetKeySetAsync(cancellationToken) : cluster.Keys.RefreshForUnknownKeyAsync(seen, keyId, cancellationToken);
                fetches.TryAdd(fetch.AsTask(), cluster);
            }
        }

        while (fetches.Count > 0)
        {
            var done = await Task.WhenAny(fetches.Keys).ConfigureAwait(false);
            var cluster = fetches[done];
            fetches.Remove(done);
            if (done.IsCompletedSuccessfully && done.Result is { } keys && keys.FindByKeyId(keyId).Length > 0)
            {
                return cluster;
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        return first;
    }

    private static string[] SchemesOf(IEnumerable<Entry> entries) => [.. entries.Select(e => e.Scheme).Distinct()];

    private async ValueTask<Table> GetTableAsync()
    {
        if (_table is { } table)
        {
            return table;
        }

        var all = await schemes.GetAllSchemesAsync().ConfigureAwait(false);
        lock (_gate)
        {
            return _table ??= Build(all);
        }
    }

    private Table Build(IEnumerable<AuthenticationScheme> all)
    {
        var entries = new List<Entry>();
        var names = new List<string>();
        foreach (var scheme in all)
        {
            if (scheme.HandlerType != typeof(KubernetesServiceAccountHandler))
            {
                continue;
            }

            names.Add(scheme.Name);
            var schemeOptions = options.Get(scheme.Name);
            SchemeRuntime? runtime = null;
            try
            {
                runtime = runtimes.GetOrCreate(scheme.Name, schemeOptions);
            }
            catch (InvalidOperationException)
            {
                // Misconfigured: its own handler reports it, for the issuers its options name.
            }

            if (runtime is null)
            {
                var issuers = new List<string>();
                if (!string.IsNullOrWhiteSpace(schemeOptions.Issuer))
                {
                    issuers.Add(schemeOptions.Issuer);
                }

                issuers.AddRange(schemeOptions.AdditionalIssuers.Where(i => !issuers.Contains(i)));
                entries.Add(new Entry(scheme.Name, null, issuers, schemeOptions.AcceptLegacyTokens, DiscoveryOnly: false));
                continue;
            }

            foreach (var cluster in runtime.Clusters)
            {
                entries.Add(new Entry(scheme.Name, cluster, cluster.Issuers, schemeOptions.AcceptLegacyTokens, string.IsNullOrWhiteSpace(cluster.Options.Issuer)));
            }
        }

        var byIssuer = entries
            .SelectMany(e => e.Issuers.Select(i => (Issuer: i, Entry: e)))
            .GroupBy(p => p.Issuer, StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => g.Select(p => p.Entry).ToArray(), StringComparer.Ordinal);
        return new Table(
            entries,
            [.. names],
            byIssuer,
            [.. entries.Where(e => e.DiscoveryOnly)],
            [.. entries.Where(e => e.AcceptsLegacy).Select(e => e.Scheme).Distinct()]);
    }

    /// <summary>One cluster of one scheme (<see cref="Cluster"/> <see langword="null"/> when the scheme is misconfigured).</summary>
    private sealed record Entry(string Scheme, ClusterRuntime? Cluster, IReadOnlyList<string> Issuers, bool AcceptsLegacy, bool DiscoveryOnly);

    private sealed record Table(
        IReadOnlyList<Entry> Entries,
        string[] Names,
        FrozenDictionary<string, Entry[]> ByIssuer,
        Entry[] DiscoveryOnly,
        string[] LegacySchemes);
}

/// <summary>What a token looks like, for routing.</summary>
internal enum TokenShape
{
    /// <summary>A bound (projected) token: it has the <c>kubernetes.io</c> claim.</summary>
    Bound,

    /// <summary>A legacy (secret-based) token: it has the flat <c>kubernetes.io/serviceaccount/*</c> claims.</summary>
    Legacy,

    /// <summary>Neither: not a service-account token.</summary>
    Foreign,
}

/// <summary>Who judges a token, as seen by one scheme: for <see cref="RouteKind.Mine"/> and <see cref="RouteKind.Pending"/>, which of its clusters.</summary>
internal readonly record struct Route(RouteKind Kind, IReadOnlyList<string>? Judges, TokenShape Shape, ClusterRuntime? Cluster = null)
{
    public static Route Unroutable => new(RouteKind.Unroutable, null, TokenShape.Foreign);

    public static Route Mine(ClusterRuntime? cluster) => new(RouteKind.Mine, null, TokenShape.Bound, cluster);

    public static Route Pending(ClusterRuntime? cluster) => new(RouteKind.Pending, null, TokenShape.Bound, cluster);

    public static Route Other(IReadOnlyList<string> judges) => new(RouteKind.Other, judges, TokenShape.Bound);

    public static Route Nobody(TokenShape shape) => new(RouteKind.Nobody, null, shape);
}

/// <summary>The kinds of <see cref="Route"/>.</summary>
internal enum RouteKind
{
    /// <summary>One of this scheme's clusters' issuers: that cluster judges.</summary>
    Mine,

    /// <summary>Another scheme's issuer: NoResult, at once.</summary>
    Other,

    /// <summary>This scheme's cluster learns its issuer from discovery and has not yet: it must wait for its keys to know.</summary>
    Pending,

    /// <summary>No registered cluster accepts it: one refusal per request.</summary>
    Nobody,

    /// <summary>The token could not be read: one refusal per request.</summary>
    Unroutable,
}
