// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Frozen;
using KubeSaAuth.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.Schemes;

/// <summary>
/// Which Kubernetes scheme judges a token, decided from its <c>iss</c> before any key work: only the
/// scheme(s) whose <c>Issuer</c> or <c>AdditionalIssuers</c> name it (or, with no <c>Issuer</c>, whose
/// discovery document does). Every other scheme leaves the token alone (NoResult), so one cluster's
/// outage never slows or fails another cluster's callers.
/// </summary>
internal sealed class IssuerRouter(
    IAuthenticationSchemeProvider schemes,
    IOptionsMonitor<KubernetesServiceAccountOptions> options,
    SchemeRuntimeFactory runtimes)
{
    private readonly object _gate = new();
    private volatile Table? _table;

    /// <summary>The Kubernetes schemes, in registration order.</summary>
    public async ValueTask<IReadOnlyList<string>> GetSchemesAsync() => (await GetTableAsync().ConfigureAwait(false)).Names;

    /// <summary>Routes a token that <paramref name="scheme"/> read; <paramref name="parsed"/> is <see langword="null"/> when it could not be read.</summary>
    public async ValueTask<Route> RouteAsync(string scheme, ParsedToken? parsed)
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
            // issuer, only to the schemes that accept them at all.
            return table.LegacySchemes.Length == 0 ? Route.Nobody(shape)
                : Array.IndexOf(table.LegacySchemes, scheme) >= 0 ? Route.Mine : Route.Other(table.LegacySchemes);
        }

        var issuer = payload.Issuer;
        if (issuer is not null && table.ByIssuer.TryGetValue(issuer, out var claimants))
        {
            return Array.IndexOf(claimants, scheme) >= 0 ? Route.Mine : Route.Other(claimants);
        }

        // No configured issuer names it: ask the schemes that know their issuer only from discovery.
        List<string>? discovered = null;
        List<string>? pending = null;
        foreach (var entry in table.DiscoveryOnly)
        {
            var current = entry.Runtime?.Keys.Current;
            if (current?.DiscoveredIssuer is { } known)
            {
                if (string.Equals(known, issuer, StringComparison.Ordinal))
                {
                    (discovered ??= []).Add(entry.Name);
                }
            }
            else
            {
                (pending ??= []).Add(entry.Name);
            }
        }

        if (discovered is not null)
        {
            return discovered.Contains(scheme) ? Route.Mine : Route.Other([.. discovered]);
        }

        if (pending is not null)
        {
            // Its issuer is not known until its discovery document arrives: it must wait for it to know.
            return pending.Contains(scheme) ? Route.Pending : Route.Other([.. pending]);
        }

        return Route.Nobody(shape);
    }

    /// <summary>The refusal of a bound token whose issuer no registered scheme accepts; the accepted ones are named in its log detail only.</summary>
    public async ValueTask<TokenFailure> RefuseUnclaimedAsync(ParsedToken parsed)
    {
        var table = await GetTableAsync().ConfigureAwait(false);
        var accepted = new List<string>();
        foreach (var entry in table.Entries)
        {
            var own = entry.Issuers.Count > 0 ? entry.Issuers
                : entry.Runtime?.Keys.Current?.DiscoveredIssuer is { } known ? [known]
                : [$"(not yet discovered, scheme {entry.Name})"];
            foreach (var issuer in own)
            {
                if (!accepted.Contains(issuer))
                {
                    accepted.Add(issuer);
                }
            }
        }

        var payload = parsed.Payload;
        // The caller learns only that its issuer is not accepted; the accepted ones go to the log.
        var detail = accepted.Count == 1
            ? $"the configured issuer is '{accepted[0]}'"
            : $"the accepted issuers are [{string.Join(", ", accepted.Select(i => $"'{i}'"))}]";
        var k = payload.Kubernetes;
        return new TokenFailure(KubernetesTokenFailureReason.InvalidIssuer, KubernetesTokenValidator.IssuerNotAccepted(payload.Issuer), parsed.Header.KeyId, payload.Issuer,
            k?.Namespace, k?.ServiceAccount?.Name, payload.Audiences, IsLegacy: false, Detail: detail);
    }

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
        foreach (var scheme in all)
        {
            if (scheme.HandlerType != typeof(KubernetesServiceAccountHandler))
            {
                continue;
            }

            var schemeOptions = options.Get(scheme.Name);
            var issuers = new List<string>();
            if (!string.IsNullOrWhiteSpace(schemeOptions.Issuer))
            {
                issuers.Add(schemeOptions.Issuer);
            }

            issuers.AddRange(schemeOptions.AdditionalIssuers.Where(i => !issuers.Contains(i)));
            SchemeRuntime? runtime = null;
            if (string.IsNullOrWhiteSpace(schemeOptions.Issuer))
            {
                try
                {
                    runtime = runtimes.GetOrCreate(scheme.Name, schemeOptions);
                }
                catch (InvalidOperationException)
                {
                    // Misconfigured: its own handler reports it; it claims nothing here.
                }
            }

            entries.Add(new Entry(scheme.Name, issuers, schemeOptions.AcceptLegacyTokens, string.IsNullOrWhiteSpace(schemeOptions.Issuer), runtime));
        }

        var byIssuer = entries
            .SelectMany(e => e.Issuers.Select(i => (Issuer: i, e.Name)))
            .GroupBy(p => p.Issuer, StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => g.Select(p => p.Name).Distinct().ToArray(), StringComparer.Ordinal);
        return new Table(
            entries,
            [.. entries.Select(e => e.Name)],
            byIssuer,
            [.. entries.Where(e => e.DiscoveryOnly)],
            [.. entries.Where(e => e.AcceptsLegacy).Select(e => e.Name)]);
    }

    private sealed record Entry(string Name, IReadOnlyList<string> Issuers, bool AcceptsLegacy, bool DiscoveryOnly, SchemeRuntime? Runtime);

    private sealed record Table(
        IReadOnlyList<Entry> Entries,
        string[] Names,
        FrozenDictionary<string, string[]> ByIssuer,
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

/// <summary>Who judges a token, as seen by one scheme.</summary>
internal readonly record struct Route(RouteKind Kind, IReadOnlyList<string>? Judges, TokenShape Shape)
{
    public static Route Mine => new(RouteKind.Mine, null, TokenShape.Bound);

    public static Route Pending => new(RouteKind.Pending, null, TokenShape.Bound);

    public static Route Unroutable => new(RouteKind.Unroutable, null, TokenShape.Foreign);

    public static Route Other(IReadOnlyList<string> judges) => new(RouteKind.Other, judges, TokenShape.Bound);

    public static Route Nobody(TokenShape shape) => new(RouteKind.Nobody, null, shape);
}

/// <summary>The kinds of <see cref="Route"/>.</summary>
internal enum RouteKind
{
    /// <summary>This scheme's issuer: it judges.</summary>
    Mine,

    /// <summary>Another scheme's issuer: NoResult, at once.</summary>
    Other,

    /// <summary>This scheme learns its issuer from discovery and has not yet: it must wait for its keys to know.</summary>
    Pending,

    /// <summary>No registered scheme accepts it: one refusal per request.</summary>
    Nobody,

    /// <summary>The token could not be read: one refusal per request.</summary>
    Unroutable,
}
