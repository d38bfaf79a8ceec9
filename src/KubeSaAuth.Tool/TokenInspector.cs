// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers.Text;
using System.Text.Json;
using KubeSaAuth.Backchannel;
using KubeSaAuth.Keys;
using KubeSaAuth.Tokens;
using Microsoft.Extensions.Logging.Abstractions;

namespace KubeSaAuth.Tool;

/// <summary>
/// Judges a token with the library's own <see cref="KubernetesTokenValidator"/>, rule by rule: the
/// validator stops at the first refusal, so each refusal that a different service configuration or
/// time would lift (audience, issuer, legacy tokens, the clock) is noted and lifted, and the token is
/// judged again, until it passes or a refusal that nothing lifts (shape, key, signature) ends it.
/// The rules themselves are never re-implemented here.
/// </summary>
internal static class TokenInspector
{
    private const string Shape = "size and shape";
    private const string Algorithm = "algorithm and header";
    private const string Kind = "token kind";
    private const string Claims = "required claims";
    private const string Subject = "subject";
    private const string Audience = "audience";
    private const string Lifetime = "lifetime";
    private const string Keys = "signing keys";
    private const string IssuerRule = "issuer";
    private const string KeyId = "key id";
    private const string Signature = "signature";

    // The order the validator applies them (KubernetesTokenValidator.ValidateAsync): a rule after the one
    // that ended the run was not checked.
    private static readonly string[] BoundOrder = [Shape, Algorithm, Kind, Claims, Subject, Audience, Lifetime, Keys, IssuerRule, KeyId, Signature];
    private static readonly string[] LegacyOrder = [Shape, Algorithm, Kind, Claims, IssuerRule, Subject, Lifetime, Audience, Keys, KeyId, Signature];

    private static readonly string[] ClaimRules = [Kind, Claims, Subject, Audience, Lifetime, IssuerRule];

    private const string InspectJwksAddress = "https://kubesa-inspect.invalid/openid/v1/jwks";

    public static async Task<InspectReport> InspectAsync(string token, InspectSettings settings, CancellationToken cancellationToken)
    {
        var judgedAt = settings.Now ?? DateTimeOffset.UtcNow;
        var now = judgedAt;
        var notes = new List<string>();
        var (issuer, judgedBy) = ChooseIssuer(token, settings.Issuers);
        var options = new KubernetesServiceAccountOptions
        {
            Issuer = issuer,
            AcceptLegacyTokens = settings.AcceptLegacyTokens,
            RequireHttpsMetadata = !settings.AllowHttp,
            MaxKeyFetchWait = TimeSpan.FromSeconds(15),
        };
        foreach (var audience in settings.Audiences)
        {
            options.Audiences.Add(audience);
        }

        foreach (var additional in settings.Issuers.Where(i => !string.Equals(i, issuer, StringComparison.Ordinal)))
        {
            // As a service trusting them all: a token naming none of them is refused naming every one.
            options.AdditionalIssuers.Add(additional);
        }

        string keySource;
        HttpMessageHandler handler;
        AddressRecorder? recorder = null;
        if (settings.JwksJson is not null)
        {
            options.JwksUri = InspectJwksAddress;
            handler = new FileJwksHandler(settings.JwksJson);
            keySource = "JWKS file";
        }
        else
        {
            options.JwksUri = settings.JwksUri;
            options.MetadataAddress = settings.MetadataAddress
                ?? (settings.JwksUri is null && Uri.TryCreate(issuer, UriKind.Absolute, out _) ? issuer!.TrimEnd('/') + KubernetesServiceAccountDefaults.DiscoveryPath : null);
            // --cacert / --token-file: the same trust and token sending as the handler's backchannel.
            handler = settings.Handler
                ?? (settings.CaCertificatePath is not null || settings.TokenPath is not null
                    ? new BackchannelCredentialsRegistry().Get(settings.CaCertificatePath, settings.TokenPath).CreateHandler(BackchannelConfigurer.TokenOrigins(options))
                    : new SocketsHttpHandler());
            // Notes each address asked, so a failure names the one that failed (discovery or jwks_uri).
            handler = recorder = new AddressRecorder { InnerHandler = handler };
            keySource = options.JwksUri ?? options.MetadataAddress ?? "(none)";
        }

        using var client = new HttpClient(handler, disposeHandler: settings.Handler is null) { Timeout = options.BackchannelTimeout };
        using var keys = new SigningKeySource("inspect", new KeySetRetriever(options.MetadataAddress, options.JwksUri, options.RequireHttpsMetadata, settings.TokenPath), () => client, options, TimeProvider.System, NullLogger.Instance, telemetry: null);

        // Parse once to read what the relaxations need (iss, aud, times); the rules stay the validator's.
        var probe = new KubernetesTokenValidator(options, "inspect", keys, new FixedTimeProvider(now));
        var parsed = probe.Parse(token, out var parseFailure);
        if (parsed is null)
        {
            return Report(null, null, [parseFailure!], parseFailure, true, settings, keySource, null, [], now) with { Issuer = judgedBy };
        }

        var (header, payload, _) = parsed.Value;
        var skipIssuer = string.IsNullOrWhiteSpace(issuer);
        if (skipIssuer)
        {
            options.Issuer = payload.Issuer;
        }

        var skipAudience = settings.Audiences.Count == 0;
        if (skipAudience)
        {
            foreach (var audience in payload.Audiences ?? [])
            {
                options.Audiences.Add(audience);
            }
        }

        string? keyError = null;
        if (options.MetadataAddress is not null || options.JwksUri is not null)
        {
            try
            {
                await keys.FetchNowAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
            }

            keyError = keys.GetStatus().LastError;
        }
        else
        {
            keyError = "no key source: pass --issuer URL, --metadata URL or --jwks FILE|URL";
        }

        var keyIds = keys.Current?.Keys.Select(k => k.KeyId ?? "(no kid)").ToArray() ?? [];
        string? keyFailure = null;
        if (recorder?.Last is { } asked)
        {
            // The address the keys came from, or the one that failed: the JWKS the discovery document named
            // is shown rather than the discovery URL.
            var fromDiscovery = settings.JwksUri is null && options.MetadataAddress is not null;
            var isDiscovery = string.Equals(asked, options.MetadataAddress, StringComparison.Ordinal);
            keySource = isDiscovery ? $"{asked} (discovery)" : fromDiscovery ? $"{asked} (jwks_uri of {options.MetadataAddress})" : asked;
            if (keyError is not null && keys.Current is null)
            {
                keyFailure = DescribeKeyFailure(asked, isDiscovery, fromDiscovery, keyError);
            }
        }

        var failures = new List<TokenFailure>();
        TokenFailure? terminal = null;
        for (var attempt = 0; attempt < 12; attempt++)
        {
            var validator = new KubernetesTokenValidator(options, "inspect", keys, new FixedTimeProvider(now));
            var outcome = await validator.ValidateAsync(token, cancellationToken).ConfigureAwait(false);
            if (outcome.Failure is null)
            {
                break;
            }

            failures.Add(outcome.Failure);
            var note = Lift(outcome.Failure.Reason, options, payload, ref now);
            if (note is not null)
            {
                notes.Add(note);
            }
            else
            {
                terminal = outcome.Failure;
                break;
            }
        }

        var report = Report(header, payload, failures, terminal, terminal is not null, settings, keySource, keyError, keyIds, judgedAt);
        return report with { Rules = Annotate(report.Rules, header, payload, skipIssuer, skipAudience, keyIds, keyFailure), Notes = notes, Issuer = judgedBy, KeyFailure = keyFailure };
    }

    /// <summary>
    /// Why there are no keys, for the verdict line: the server's "retry shortly" does not help a CLI user, the
    /// address that failed and what to do instead do.
    /// </summary>
    internal static string DescribeKeyFailure(string address, bool isDiscovery, bool fromDiscovery, string error)
    {
        if (isDiscovery)
        {
            return $"no signing keys: discovery at {address} failed: {error}";
        }

        // jwks_uri often names an address only the cluster reaches (a node IP, an internal host name).
        var named = fromDiscovery ? $"jwks_uri {address} (named by the discovery document)" : $"{address} (--jwks)";
        var hint = fromDiscovery
            ? "if this machine cannot reach it, pass --jwks with a URL it can reach or a file (kubectl get --raw /openid/v1/jwks > jwks.json)"
            : "if this machine cannot reach it, pass --jwks with a file (kubectl get --raw /openid/v1/jwks > jwks.json)";
        return $"no signing keys: the JWKS at {named} failed: {error}; {hint}";
    }

    /// <summary>
    /// Which of the given issuers judges the token: the one its <c>iss</c> names (as the service routes it),
    /// else the first (whose refusal then names them all). The <c>iss</c> is peeked at here only to choose;
    /// the token is read and judged by the validator.
    /// </summary>
    internal static (string? Issuer, string? Description) ChooseIssuer(string token, IReadOnlyList<string> issuers)
    {
        if (issuers.Count == 0)
        {
            return (null, null);
        }

        var named = PeekIssuer(token);
        for (var i = 0; i < issuers.Count; i++)
        {
            if (string.Equals(issuers[i], named, StringComparison.Ordinal))
            {
                return (issuers[i], issuers.Count == 1 ? issuers[i] : $"{issuers[i]} (--issuer {i + 1} of {issuers.Count}, the one the token's iss names)");
            }
        }

        return (issuers[0], issuers.Count == 1 ? issuers[0] : $"{issuers[0]} (none of the {issuers.Count} --issuer values is the token's iss; judged as the first)");
    }

    private static string? PeekIssuer(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3 || parts[1].Length > 64 * 1024)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("iss", out var iss) && iss.ValueKind == JsonValueKind.String
                ? iss.GetString()
                : null;
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Lifts a refusal that another configuration or time would not make, saying what was assumed; <see langword="null"/> when nothing can.</summary>
    private static string? Lift(KubernetesTokenFailureReason reason, KubernetesServiceAccountOptions options, JwtPayloadDocument payload, ref DateTimeOffset now)
    {
        switch (reason)
        {
            case KubernetesTokenFailureReason.LegacyTokenRefused when !options.AcceptLegacyTokens:
                options.AcceptLegacyTokens = true;
                return "the rules after 'token kind' were judged as if AcceptLegacyTokens were set (--accept-legacy)";
            case KubernetesTokenFailureReason.InvalidAudience when payload.Audiences is { Length: > 0 } && !payload.Audiences.All(options.Audiences.Contains):
                foreach (var audience in payload.Audiences)
                {
                    options.Audiences.Add(audience);
                }

                return $"the rules after 'audience' were judged as if the service accepted [{string.Join(", ", payload.Audiences)}]";
            case KubernetesTokenFailureReason.InvalidIssuer when payload.Issuer is not null && payload.Kubernetes is not null && !string.Equals(options.Issuer, payload.Issuer, StringComparison.Ordinal):
                options.Issuer = payload.Issuer;
                return $"the rules after 'issuer' were judged as if the service expected '{payload.Issuer}'";
            case KubernetesTokenFailureReason.Expired or KubernetesTokenFailureReason.NotYetValid:
                var within = payload.NotBefore is null && payload.IssuedAt is null
                    ? payload.ExpiresAt - 1
                    : Math.Max(payload.NotBefore ?? long.MinValue, payload.IssuedAt ?? long.MinValue);
                if (within is not { } seconds || seconds is < 0 or > 253402300799)
                {
                    return null;
                }

                var moved = DateTimeOffset.FromUnixTimeSeconds(seconds);
                if (moved == now)
                {
                    return null;
                }

                now = moved;
                return $"the rules after 'lifetime' were judged at {moved:u}, within the token's lifetime";
            default:
                return null;
        }
    }

    private static InspectReport Report(JwtHeaderDocument? header, JwtPayloadDocument? payload, List<TokenFailure> failures, TokenFailure? terminal, bool terminalIsFinal,
        InspectSettings settings, string keySource, string? keyError, IReadOnlyList<string> keyIds, DateTimeOffset now)
    {
        var order = payload is { Kubernetes: null } ? LegacyOrder : BoundOrder;
        var rules = new List<RuleResult>();
        var terminalIndex = terminal is null || !terminalIsFinal ? int.MaxValue : Array.IndexOf(order, RuleOf(terminal.Reason));
        for (var i = 0; i < order.Length; i++)
        {
            var rule = order[i];
            var failed = failures.Where(f => RuleOf(f.Reason) == rule).ToList();
            if (failed.Count > 0)
            {
                rules.Add(new RuleResult(rule, RuleStatus.Fail, string.Join("; ", failed.Select(f => f.LogDescription)), failed[0].Reason));
            }
            else if (i > terminalIndex)
            {
                rules.Add(new RuleResult(rule, RuleStatus.NotChecked, "not checked: an earlier rule refused the token"));
            }
            else if (terminal?.Reason == KubernetesTokenFailureReason.InvalidSignature && ClaimRules.Contains(rule))
            {
                // The validator reports a forgery ahead of the claim rules it broke (a tampered 'sub' is a
                // forgery, not a subject mismatch): the claims of a forged payload are not the issuer's.
                rules.Add(new RuleResult(rule, RuleStatus.NotChecked, "moot: the signature does not verify, so these claims are not the issuer's"));
            }
            else
            {
                rules.Add(new RuleResult(rule, RuleStatus.Pass, string.Empty));
            }
        }

        return new InspectReport(header, payload, rules, failures.Count > 0 ? failures[0] : null, keySource, keyError, keyIds, now);
    }

    private static IReadOnlyList<RuleResult> Annotate(IReadOnlyList<RuleResult> rules, JwtHeaderDocument header, JwtPayloadDocument payload, bool skipIssuer, bool skipAudience, IReadOnlyList<string> keyIds, string? keyFailure)
    {
        var legacy = payload.Kubernetes is null;
        return [.. rules.Select(r => r.Status switch
        {
            RuleStatus.Fail when r.Reason == KubernetesTokenFailureReason.KeysUnavailable && keyFailure is not null => r with { Detail = keyFailure },
            RuleStatus.Pass when r.Rule == IssuerRule && skipIssuer && !legacy => r with { Status = RuleStatus.Skipped, Detail = $"iss '{payload.Issuer}' taken as is; pass --issuer to check it" },
            RuleStatus.Pass when r.Rule == Audience && legacy => r with { Status = RuleStatus.Skipped, Detail = "legacy tokens name no audience" },
            RuleStatus.Pass when r.Rule == Audience && skipAudience => r with { Status = RuleStatus.Skipped, Detail = $"aud [{string.Join(", ", payload.Audiences ?? [])}] taken as is; pass --audience to check it" },
            RuleStatus.Pass => r with { Detail = PassDetail(r.Rule, header, payload, keyIds) },
            _ => r,
        })];
    }

    private static string PassDetail(string rule, JwtHeaderDocument header, JwtPayloadDocument payload, IReadOnlyList<string> keyIds) => rule switch
    {
        Shape => "three base64url segments of JSON",
        Algorithm => $"alg {header.Algorithm}",
        Kind => payload.Kubernetes is null ? "legacy (secret-based) token, accepted because legacy tokens are allowed" : "bound (projected) token",
        Claims => "namespace, service account name and uid present",
        Subject => $"sub '{payload.Subject}'",
        Audience => $"aud [{string.Join(", ", payload.Audiences ?? [])}]",
        Lifetime => payload.ExpiresAt is { } exp ? $"exp {DateTimeOffset.FromUnixTimeSeconds(exp):u}" : "no exp (legacy token)",
        Keys => $"{keyIds.Count} key(s)",
        IssuerRule => $"iss '{payload.Issuer}'",
        KeyId => header.KeyId is null ? "no kid: every key is tried" : $"kid '{header.KeyId}' is published",
        Signature => "verifies",
        _ => string.Empty,
    };

    private static string RuleOf(KubernetesTokenFailureReason reason) => reason switch
    {
        KubernetesTokenFailureReason.Malformed or KubernetesTokenFailureReason.TooLarge or KubernetesTokenFailureReason.InvalidAuthorizationHeader => Shape,
        KubernetesTokenFailureReason.UnsupportedAlgorithm or KubernetesTokenFailureReason.UnsupportedHeader => Algorithm,
        KubernetesTokenFailureReason.NotServiceAccountToken or KubernetesTokenFailureReason.LegacyTokenRefused => Kind,
        KubernetesTokenFailureReason.MissingClaim or KubernetesTokenFailureReason.MissingExpiration => Claims,
        KubernetesTokenFailureReason.InvalidSubject => Subject,
        KubernetesTokenFailureReason.InvalidAudience => Audience,
        KubernetesTokenFailureReason.Expired or KubernetesTokenFailureReason.NotYetValid => Lifetime,
        KubernetesTokenFailureReason.KeysUnavailable => Keys,
        KubernetesTokenFailureReason.InvalidIssuer => IssuerRule,
        KubernetesTokenFailureReason.UnknownKey => KeyId,
        _ => Signature,
    };

    /// <summary>A clock stopped at one instant: the validator reads only <see cref="GetUtcNow"/>.</summary>
    private sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    /// <summary>Remembers the last address asked (discovery, then the JWKS).</summary>
    private sealed class AddressRecorder : DelegatingHandler
    {
        private string? _last;

        public string? Last => Volatile.Read(ref _last);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Volatile.Write(ref _last, request.RequestUri?.ToString());
            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>Serves a JWKS file's contents as the JWKS endpoint would.</summary>
    private sealed class FileJwksHandler(string json) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = new HttpResponseMessage(System.Net.HttpStatusCode.OK)
            {
                RequestMessage = request,
                Content = new StringContent(json, System.Text.Encoding.UTF8, KeySetRetriever.JwksMediaType),
            };
            return Task.FromResult(response);
        }
    }
}
