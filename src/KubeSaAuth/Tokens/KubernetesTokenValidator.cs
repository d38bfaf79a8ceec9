// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Buffers;
using System.Buffers.Text;
using System.Collections.Frozen;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using KubeSaAuth.Keys;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Tokens;

/// <summary>
/// The token rules of a Kubernetes service-account token, in the order cheapest first, so that a token
/// refused for its shape or claims never costs a key fetch; it costs one signature verification only when
/// the keys in hand can tell a forged payload (reported as such) from a genuine token that breaks a rule.
/// </summary>
/// <remarks>
/// Header and payload are read by <see cref="JwtDocumentReader"/> in one strict pass (duplicate members refused
/// at every depth, integers only, bounded depth) rather than IdentityModel's <c>JsonWebToken</c>, which keeps the
/// last of duplicate members; the signature is verified by IdentityModel's signature providers.
/// </remarks>
internal sealed class KubernetesTokenValidator
{
    // RFC 7518 §3.1 — the algorithms the API server signs with (k8s pkg/serviceaccount/jwt.go).
    private static readonly FrozenSet<string> AcceptedAlgorithms = FrozenSet.ToFrozenSet(
        [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512],
        StringComparer.Ordinal);

    // Header parameters that are never honoured: a key or key URL chosen by the token (RFC 7515 §4.1.2–4.1.6
    // — trusting them lets anyone sign), extensions we do not implement (crit, b64 per RFC 7797),
    // encryption and compression.
    private static readonly string[] RefusedHeaderParameters = ["crit", "jku", "jwk", "x5u", "x5c", "b64", "enc", "zip"];

    // C0, DEL, C1, and U+2028/U+2029 (line and paragraph separators): never copied from a token into a log or a description.
    private static readonly SearchValues<char> ControlCharacters = SearchValues.Create(
        string.Concat(Enumerable.Range(0, 0x20).Concat(Enumerable.Range(0x7F, 0x21)).Concat([0x2028, 0x2029]).Select(c => (char)c)));

    private static readonly SearchValues<char> Base64UrlAlphabet =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    // RFC 7519 NumericDate, capped at 9999-01-01T00:00:00Z: a year below DateTimeOffset.MaxValue, so that
    // adding the clock skew (at most 10 minutes) or a cache lifetime to a token's time never overflows.
    internal const long MaxNumericDate = 253370764800;

    private readonly SigningKeySource _keys;
    private readonly TimeProvider _time;
    private readonly FrozenSet<string> _audiences;
    private readonly string _audienceList;
    private readonly string? _issuer;
    private readonly FrozenSet<string> _additionalIssuers;
    private readonly bool _acceptLegacy;
    private readonly bool _enforceWarnAfter;
    private readonly TimeSpan _skew;
    private readonly int _maxTokenSize;
    private readonly string _cluster;

    public KubernetesTokenValidator(KubernetesServiceAccountOptions options, string scheme, SigningKeySource keys, TimeProvider timeProvider)
    {
        _keys = keys;
        _time = timeProvider;
        _audiences = options.Audiences.ToFrozenSet(StringComparer.Ordinal);
        _audienceList = "[" + string.Join(", ", options.Audiences.Select(a => $"'{a}'")) + "]";
        _issuer = string.IsNullOrWhiteSpace(options.Issuer) ? null : options.Issuer;
        _additionalIssuers = options.AdditionalIssuers.ToFrozenSet(StringComparer.Ordinal);
        _acceptLegacy = options.AcceptLegacyTokens;
        _enforceWarnAfter = options.EnforceWarnAfter;
        _skew = options.ClockSkew;
        _maxTokenSize = options.MaxTokenSize;
        _cluster = string.IsNullOrWhiteSpace(options.ClusterName) ? scheme : options.ClusterName;
    }

    public SigningKeySource Keys => _keys;

    public ValueTask<TokenValidationOutcome> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        var parsed = Parse(token, out var failure);
        return parsed is null
            ? ValueTask.FromResult(TokenValidationOutcome.Fail(failure!))
            : ValidateAsync(token, parsed.Value, cancellationToken);
    }

    /// <summary>Whether <paramref name="issuer"/> is one this scheme's configuration names (<c>Issuer</c> or <c>AdditionalIssuers</c>).</summary>
    public bool IsConfiguredIssuer(string? issuer) =>
        issuer is not null && (string.Equals(issuer, _issuer, StringComparison.Ordinal) || _additionalIssuers.Contains(issuer));

    /// <summary>
    /// The <see cref="KubernetesTokenFailureReason.InvalidSignature"/> failure when a key already in hand (never
    /// a fetch) says the payload was forged; used before refusing a token for an issuer no scheme accepts,
    /// so that a tampered 'iss' is reported as the forgery it is.
    /// </summary>
    public TokenFailure? FindForgery(string token, ParsedToken parsed)
    {
        var forged = ForgedUnderKnownKey(token, parsed.SigningInputLength, parsed.Header, _keys.Current);
        var k = parsed.Payload.Kubernetes;
        return forged is null ? null : forged with { Issuer = parsed.Payload.Issuer, Namespace = k?.Namespace, ServiceAccount = k?.ServiceAccount?.Name, IsLegacy = k is null };
    }

    /// <summary>Validates a token whose shape, header and payload <see cref="Parse"/> already read.</summary>
    public async ValueTask<TokenValidationOutcome> ValidateAsync(string token, ParsedToken parsed, CancellationToken cancellationToken)
    {
        TokenFailure? failure;
        var (header, payload, signingInputLength) = parsed;
        var now = _time.GetUtcNow();
        var claims = payload.Kubernetes is not null ? CheckBound(payload, now, out failure) : CheckLegacy(payload, now, out failure);
        if (claims is null)
        {
            // Claims read from an unverified payload: when a key already in hand says the payload was
            // forged, that is the reason to report (a tampered 'sub' is a forgery, not a subject mismatch).
            // Only keys in hand: a token refused for its claims never causes a key fetch.
            return TokenValidationOutcome.Fail(ForgedUnderKnownKey(token, signingInputLength, header, _keys.Current)
                ?? failure! with { KeyId = header.KeyId, Issuer = payload.Issuer, Audiences = payload.Audiences, IsLegacy = payload.Kubernetes is null });
        }

        // A configured issuer is compared before the key set is awaited: a token of another cluster never
        // waits for (or causes) a fetch of this one's keys.
        if (!claims.IsLegacy && _issuer is not null && !IsConfiguredIssuer(payload.Issuer))
        {
            var forged = ForgedUnderKnownKey(token, signingInputLength, header, _keys.Current);
            return forged is not null
                ? TokenValidationOutcome.Fail(forged with { Namespace = claims.Namespace, ServiceAccount = claims.Name, IsLegacy = claims.IsLegacy })
                : Refuse(KubernetesTokenFailureReason.InvalidIssuer, IssuerNotAccepted(payload.Issuer), header, claims, ConfiguredIssuers(_issuer));
        }

        var keySet = await _keys.GetKeySetAsync(cancellationToken).ConfigureAwait(false);
        if (keySet is null)
        {
            // The fetch error (addresses, status codes) stays in the KeyFetchFailed log: this description
            // reaches unauthenticated callers in WWW-Authenticate.
            return Refuse(KubernetesTokenFailureReason.KeysUnavailable,
                "the issuer's signing keys are not available yet; retry shortly",
                header, claims);
        }

        if (!claims.IsLegacy && _issuer is null)
        {
            // Only discovered: compared once the discovery document is in hand (docs/configuration.md says what that costs).
            var expectedIssuer = keySet.DiscoveredIssuer;
            if (expectedIssuer is null && !_additionalIssuers.Contains(payload.Issuer ?? string.Empty))
            {
                return Refuse(KubernetesTokenFailureReason.InvalidIssuer, $"{IssuerNotAccepted(payload.Issuer)}: this service knows no issuer to compare it with",
                    header, claims, "no issuer is configured and the discovery document names none; set the Issuer option");
            }

            if (!string.Equals(payload.Issuer, expectedIssuer, StringComparison.Ordinal) && !_additionalIssuers.Contains(payload.Issuer ?? string.Empty))
            {
                var forged = ForgedUnderKnownKey(token, signingInputLength, header, keySet);
                if (forged is not null)
                {
                    return TokenValidationOutcome.Fail(forged with { Namespace = claims.Namespace, ServiceAccount = claims.Name, IsLegacy = claims.IsLegacy });
                }

                return Refuse(KubernetesTokenFailureReason.InvalidIssuer, IssuerNotAccepted(payload.Issuer), header, claims, ConfiguredIssuers(expectedIssuer!));
            }
        }

        var candidates = SelectKeys(keySet, header);
        if (candidates.Length == 0 && header.KeyId is not null && keySet.FindWeakKey(header.KeyId) is { } weak)
        {
            // RFC 7518 §3.3: the key was read and refused for its size; fetching again would not change it.
            return Refuse(KubernetesTokenFailureReason.WeakKey,
                $"the key with kid '{Shorten(header.KeyId)}' is an RSA key of {weak.Bits} bits, under the {SigningKey.MinimumRsaKeySizeInBits} bits RFC 7518 §3.3 requires: tokens it signs are refused",
                header, claims);
        }

        if (candidates.Length == 0 && header.KeyId is not null)
        {
            // One refresh for a kid we have not seen (a rotated key), throttled by RefreshInterval; then
            // refused, as the API server does. Never "try every key" for a kid that names none.
            keySet = await _keys.RefreshForUnknownKeyAsync(keySet, header.KeyId, cancellationToken).ConfigureAwait(false) ?? keySet;
            candidates = SelectKeys(keySet, header);
            if (candidates.Length == 0)
            {
                return Refuse(KubernetesTokenFailureReason.UnknownKey, $"no key with kid '{Shorten(header.KeyId)}' in the issuer's key set", header, claims,
                    $"the issuer's key set holds {keySet.Keys.Count} keys");
            }
        }

        var usable = Usable(candidates, header.Algorithm!);
        if (usable.Length == 0)
        {
            return Refuse(KubernetesTokenFailureReason.UnsupportedAlgorithm,
                header.KeyId is null
                    ? $"no key of the issuer verifies {header.Algorithm}"
                    : $"the key with kid '{Shorten(header.KeyId)}' does not verify {header.Algorithm}",
                header, claims);
        }

        if (!VerifySignature(token, signingInputLength, header.Algorithm!, usable))
        {
            return Refuse(KubernetesTokenFailureReason.InvalidSignature,
                header.KeyId is null ? "the signature does not verify with any of the issuer's keys" : $"the signature does not verify with the key with kid '{Shorten(header.KeyId)}'",
                header, claims);
        }

        var pastWarnAfter = claims.WarnAfter is { } warnAfter && now > warnAfter + _skew;
        return new TokenValidationOutcome(claims, null, keySet.TrustEpoch, pastWarnAfter);
    }

    /// <summary>What the caller is told of an issuer refused: the token's issuer, never the accepted ones (they go to the log).</summary>
    internal static string IssuerNotAccepted(string? issuer) =>
        issuer is null ? "the token names no issuer ('iss')" : $"the token's issuer '{Shorten(issuer)}' is not accepted here";

    /// <summary>The operator's side of an issuer refusal: the issuers this scheme accepts.</summary>
    private string ConfiguredIssuers(string expected) =>
        _additionalIssuers.Count == 0
            ? $"the configured issuer is '{expected}'"
            : $"the accepted issuers are [{string.Join(", ", _additionalIssuers.Prepend(expected).Select(i => $"'{i}'"))}]";

    private TokenValidationOutcome Refuse(KubernetesTokenFailureReason reason, string description, JwtHeaderDocument header, KubernetesServiceAccount claims, string? detail = null) =>
        TokenValidationOutcome.Fail(new TokenFailure(reason, description, header.KeyId, claims.Issuer, claims.Namespace, claims.Name, claims.Audiences, claims.IsLegacy, detail, _cluster));

    /// <summary>
    /// The <see cref="KubernetesTokenFailureReason.InvalidSignature"/> failure when <paramref name="keySet"/> (keys
    /// already in hand) holds a key the token names (or, without a kid, any key for its algorithm) and none of
    /// them verifies it; otherwise <see langword="null"/>, and the caller reports the rule that failed.
    /// </summary>
    private static TokenFailure? ForgedUnderKnownKey(string token, int signingInputLength, JwtHeaderDocument header, KeySet? keySet)
    {
        if (keySet is null)
        {
            return null;
        }

        var usable = Usable(SelectKeys(keySet, header), header.Algorithm!);
        if (usable.Length == 0 || VerifySignature(token, signingInputLength, header.Algorithm!, usable))
        {
            return null;
        }

        return new TokenFailure(KubernetesTokenFailureReason.InvalidSignature,
            header.KeyId is null ? "the signature does not verify with any of the issuer's keys" : $"the signature does not verify with the key with kid '{Shorten(header.KeyId)}'",
            header.KeyId);
    }

    private static SigningKey[] Usable(SigningKey[] candidates, string algorithm)
    {
        // Almost always one key (the token's kid) that accepts the algorithm: return the array as is.
        var count = 0;
        foreach (var key in candidates)
        {
            if (key.Accepts(algorithm))
            {
                count++;
            }
        }

        if (count == candidates.Length)
        {
            return candidates;
        }

        var usable = new SigningKey[count];
        count = 0;
        foreach (var key in candidates)
        {
            if (key.Accepts(algorithm))
            {
                usable[count++] = key;
            }
        }

        return usable;
    }

    private static SigningKey[] SelectKeys(KeySet keySet, JwtHeaderDocument header) =>
        header.KeyId is null ? [.. keySet.Keys] : keySet.FindByKeyId(header.KeyId);

    /// <summary>Shape, header and payload: everything that needs no key.</summary>
    internal ParsedToken? Parse(string token, out TokenFailure? failure)
    {
        failure = null;
        if (token.Length > _maxTokenSize)
        {
            failure = new(KubernetesTokenFailureReason.TooLarge, $"the token is {token.Length} characters long, more than this service accepts (MaxTokenSize)",
                Detail: $"MaxTokenSize is {_maxTokenSize}", Cluster: _cluster);
            return null;
        }

        var span = token.AsSpan();
        var dots = span.Count('.');
        if (dots == 4)
        {
            failure = new(KubernetesTokenFailureReason.UnsupportedHeader, "encrypted tokens (JWE, 5 segments) are not accepted; service-account tokens are signed JWTs");
            return null;
        }

        if (dots != 2)
        {
            failure = new(KubernetesTokenFailureReason.Malformed, $"a signed JWT has 3 dot-separated segments; this token has {dots + 1}");
            return null;
        }

        var first = span.IndexOf('.');
        var second = first + 1 + span[(first + 1)..].IndexOf('.');
        var headerSegment = span[..first];
        var payloadSegment = span[(first + 1)..second];
        var signatureSegment = span[(second + 1)..];
        if (headerSegment.IsEmpty || payloadSegment.IsEmpty)
        {
            failure = new(KubernetesTokenFailureReason.Malformed, "the token has an empty header or payload segment");
            return null;
        }

        // RFC 7515 §2: base64url without padding — no '+', '/', '=' or white space.
        if (headerSegment.ContainsAnyExcept(Base64UrlAlphabet) || payloadSegment.ContainsAnyExcept(Base64UrlAlphabet) || signatureSegment.ContainsAnyExcept(Base64UrlAlphabet))
        {
            failure = new(KubernetesTokenFailureReason.Malformed, "a segment is not unpadded base64url (RFC 7515 §2)");
            return null;
        }

        var header = Read(headerSegment, JwtDocumentReader.ReadHeader, "header", out failure);
        if (header is null)
        {
            return null;
        }

        if (header.Algorithm is null)
        {
            failure = new(KubernetesTokenFailureReason.Malformed, "the header names no 'alg'");
            return null;
        }

        if (!AcceptedAlgorithms.Contains(header.Algorithm))
        {
            failure = new(KubernetesTokenFailureReason.UnsupportedAlgorithm, $"algorithm '{Shorten(header.Algorithm)}' is not accepted; service-account tokens are signed with RS256, ES256, ES384 or ES512", header.KeyId);
            return null;
        }

        // After the algorithm check, so that an 'alg: none' token is refused for what it is.
        if (signatureSegment.IsEmpty)
        {
            failure = new(KubernetesTokenFailureReason.Malformed, "the token is unsigned (empty signature segment)", header.KeyId);
            return null;
        }

        if (header.Other is not null)
        {
            foreach (var name in RefusedHeaderParameters)
            {
                if (header.Other.Contains(name))
                {
                    failure = new(KubernetesTokenFailureReason.UnsupportedHeader, $"header parameter '{name}' is not accepted", header.KeyId);
                    return null;
                }
            }
        }

        if (header.KeyId is { Length: 0 })
        {
            // Old tokens carry "kid": "" (istio GKE vector): same as no kid.
            header.KeyId = null;
        }

        var payload = Read(payloadSegment, JwtDocumentReader.ReadPayload, "payload", out failure);
        if (payload is null)
        {
            failure = failure! with { KeyId = header.KeyId };
            return null;
        }

        return new ParsedToken(header, payload, second);
    }

    private delegate T? DocumentReader<T>(ReadOnlySpan<byte> json);

    // Decoded segments up to this size stay on the stack (a typical payload is under 1 KiB).
    private const int StackDecodeLimit = 2048;

    private static T? Read<T>(ReadOnlySpan<char> segment, DocumentReader<T> read, string what, out TokenFailure? failure)
        where T : class
    {
        failure = null;
        var maxLength = Base64Url.GetMaxDecodedLength(segment.Length);
        byte[]? rented = null;
        var buffer = maxLength <= StackDecodeLimit ? stackalloc byte[maxLength] : (rented = ArrayPool<byte>.Shared.Rent(maxLength));
        try
        {
            if (Base64Url.DecodeFromChars(segment, buffer, out _, out var written) != OperationStatus.Done)
            {
                failure = new(KubernetesTokenFailureReason.Malformed, $"the {what} is not valid base64url");
                return null;
            }

            // RFC 8259 §8.1: JSON text is UTF-8. The reader transcodes only the strings the rules read,
            // not those it skips (unknown members), so check all of it once.
            var json = buffer[..written];
            if (!Utf8.IsValid(json))
            {
                failure = new(KubernetesTokenFailureReason.Malformed, $"the {what} is not valid UTF-8");
                return null;
            }

            var value = read(json);
            if (value is null)
            {
                failure = new(KubernetesTokenFailureReason.Malformed, $"the {what} is not a JSON object");
            }

            return value;
        }
        catch (JsonException ex)
        {
            failure = new(KubernetesTokenFailureReason.Malformed, $"the {what} is not acceptable JSON: {Shorten(ex.Message, 160)}");
            return null;
        }
        catch (InvalidOperationException ex)
        {
            failure = new(KubernetesTokenFailureReason.Malformed, $"the {what} is not acceptable JSON: {Shorten(ex.Message, 160)}");
            return null;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private KubernetesServiceAccount? CheckBound(JwtPayloadDocument payload, DateTimeOffset now, out TokenFailure? failure)
    {
        failure = null;
        var k = payload.Kubernetes!;
        var ns = k.Namespace;
        var name = k.ServiceAccount?.Name;
        if (string.IsNullOrEmpty(ns))
        {
            failure = new(KubernetesTokenFailureReason.MissingClaim, "the 'kubernetes.io' claim has no namespace");
            return null;
        }

        if (string.IsNullOrEmpty(name) || string.IsNullOrEmpty(k.ServiceAccount!.Uid))
        {
            failure = new(KubernetesTokenFailureReason.MissingClaim, "the 'kubernetes.io' claim has no serviceaccount name and uid", Namespace: ns);
            return null;
        }

        if (!CheckNames(ns, name, out failure) || !CheckReferences(k, ns, name, out var node, out failure))
        {
            return null;
        }

        if (!CheckSubject(payload.Subject, ns, name, out failure))
        {
            return null;
        }

        if (payload.Audiences is null || payload.Audiences.Length == 0)
        {
            failure = new(KubernetesTokenFailureReason.InvalidAudience, "the token names no audience ('aud')", Namespace: ns, ServiceAccount: name,
                Detail: $"accepted audiences: {_audienceList}", Cluster: _cluster);
            return null;
        }

        var audienceMatch = false;
        foreach (var audience in payload.Audiences)
        {
            if (_audiences.Contains(audience))
            {
                audienceMatch = true;
                break;
            }
        }

        if (!audienceMatch)
        {
            // The token's audience only: the accepted ones would tell an anonymous caller what to ask for.
            var named = payload.Audiences.Length == 1
                ? $"the token's audience '{Shorten(payload.Audiences[0])}' is"
                : $"none of the token's audiences [{string.Join(", ", payload.Audiences.Take(5).Select(a => $"'{Shorten(a)}'"))}] is";
            failure = new(KubernetesTokenFailureReason.InvalidAudience, $"{named} not accepted here", Namespace: ns, ServiceAccount: name,
                Detail: $"accepted audiences: {_audienceList}", Cluster: _cluster);
            return null;
        }

        if (payload.ExpiresAt is null)
        {
            failure = new(KubernetesTokenFailureReason.MissingExpiration, "the token has no 'exp'; bound service-account tokens always expire", Namespace: ns, ServiceAccount: name);
            return null;
        }

        if (!CheckLifetime(payload, now, ns, name, out var expires, out var notBefore, out var issuedAt, out failure))
        {
            return null;
        }

        DateTimeOffset? warnAfter = null;

        // k8s pkg/serviceaccount/claims.go: "if warnafter != nil && *warnafter != 0" — a warnafter of 0 is no warnafter.
        if (k.WarnAfter is { } warn and not 0)
        {
            if (warn < 0 || warn > MaxNumericDate)
            {
                failure = new(KubernetesTokenFailureReason.Malformed, OutOfRange("kubernetes.io.warnafter", warn), Namespace: ns, ServiceAccount: name);
                return null;
            }

            warnAfter = DateTimeOffset.FromUnixTimeSeconds(warn);
            if (_enforceWarnAfter && now > warnAfter + _skew)
            {
                failure = new(KubernetesTokenFailureReason.Expired,
                    $"the token is past its warnafter time {warnAfter:o}: its lifetime was extended, and a working kubelet would have replaced it; the caller must re-read its token file",
                    Namespace: ns, ServiceAccount: name, Detail: "EnforceWarnAfter is on; set it to false to accept such tokens with a warning", Cluster: _cluster);
                return null;
            }
        }

        return new KubernetesServiceAccount
        {
            Namespace = ns,
            Name = name,
            Uid = k.ServiceAccount!.Uid,
            PodName = k.Pod?.Name,
            PodUid = k.Pod?.Uid,
            NodeName = node?.Name,
            NodeUid = string.IsNullOrEmpty(node?.Uid) ? null : node.Uid,
            SecretName = k.Secret?.Name,
            SecretUid = k.Secret?.Uid,
            Issuer = payload.Issuer ?? string.Empty,
            Cluster = _cluster,
            IsLegacy = false,
            Audiences = payload.Audiences,
            TokenId = payload.TokenId,
            IssuedAt = issuedAt,
            NotBefore = notBefore,
            ExpiresAt = expires,
            WarnAfter = warnAfter,
        };
    }

    private KubernetesServiceAccount? CheckLegacy(JwtPayloadDocument payload, DateTimeOffset now, out TokenFailure? failure)
    {
        failure = null;
        var ns = payload.LegacyNamespace;
        var name = payload.LegacyServiceAccountName;
        if (ns is null && name is null && payload.LegacySecretName is null && payload.LegacyServiceAccountUid is null)
        {
            failure = new(KubernetesTokenFailureReason.NotServiceAccountToken, "the token has neither the 'kubernetes.io' claim of bound tokens nor the claims of legacy tokens: not a Kubernetes service-account token");
            return null;
        }

        if (!_acceptLegacy)
        {
            failure = new(KubernetesTokenFailureReason.LegacyTokenRefused,
                "legacy secret-based service-account tokens are not accepted: they never expire and can be replayed against the API server; give the caller a projected token with your audience (serviceAccountToken volume), or set AcceptLegacyTokens",
                Namespace: ns, ServiceAccount: name);
            return null;
        }

        // k8s pkg/serviceaccount/legacy.go: every one of these claims is required.
        if (string.IsNullOrEmpty(ns) || string.IsNullOrEmpty(name) || string.IsNullOrEmpty(payload.LegacyServiceAccountUid) || string.IsNullOrEmpty(payload.LegacySecretName))
        {
            failure = new(KubernetesTokenFailureReason.MissingClaim, "a legacy token needs the namespace, secret.name, service-account.name and service-account.uid claims", Namespace: ns, ServiceAccount: name);
            return null;
        }

        if (!CheckNames(ns, name, out failure))
        {
            return null;
        }

        if (!KubernetesNames.IsDns1123Subdomain(payload.LegacySecretName))
        {
            failure = new(KubernetesTokenFailureReason.InvalidClaims, NotASubdomain("secret.name", payload.LegacySecretName, "Secret"), Namespace: ns, ServiceAccount: name);
            return null;
        }

        if (!string.Equals(payload.Issuer, KubernetesServiceAccountDefaults.LegacyIssuer, StringComparison.Ordinal))
        {
            failure = new(KubernetesTokenFailureReason.InvalidIssuer, $"issuer '{Shorten(payload.Issuer)}' of a legacy token is not '{KubernetesServiceAccountDefaults.LegacyIssuer}'", Namespace: ns, ServiceAccount: name);
            return null;
        }

        if (!CheckSubject(payload.Subject, ns, name, out failure))
        {
            return null;
        }

        if (!CheckLifetime(payload, now, ns, name, out var expires, out var notBefore, out var issuedAt, out failure))
        {
            return null;
        }

        return new KubernetesServiceAccount
        {
            Namespace = ns,
            Name = name,
            Uid = payload.LegacyServiceAccountUid,
            SecretName = payload.LegacySecretName,
            Issuer = payload.Issuer!,
            Cluster = _cluster,
            IsLegacy = true,
            Audiences = payload.Audiences ?? [],
            TokenId = payload.TokenId,
            IssuedAt = issuedAt,
            NotBefore = notBefore,
            ExpiresAt = expires,
        };
    }

    /// <summary>
    /// The namespace is a DNS-1123 label, the service account's name a DNS-1123 subdomain: k8s.io/apimachinery
    /// ValidateNamespaceName and ValidateServiceAccountName, which the API server applies to every object it
    /// stores and, in k8s.io/apiserver serviceaccount/util.go SplitUsername, to a legacy token's 'sub'. No other
    /// name can belong to a genuine service account, and none can carry ':', '@', '*' or upper case into a
    /// username or a policy.
    /// </summary>
    private static bool CheckNames(string ns, string name, out TokenFailure? failure)
    {
        failure = null;
        if (!KubernetesNames.IsDns1123Label(ns))
        {
            failure = new(KubernetesTokenFailureReason.InvalidClaims,
                $"namespace '{Shorten(ns)}' is not a DNS-1123 label (at most {KubernetesNames.MaxLabelLength} characters of a-z, 0-9 and '-', beginning and ending with a letter or digit): Kubernetes has no such namespace",
                Namespace: ns, ServiceAccount: name);
            return false;
        }

        if (!KubernetesNames.IsDns1123Subdomain(name))
        {
            failure = new(KubernetesTokenFailureReason.InvalidClaims, NotASubdomain("service account name", name, "service account"), Namespace: ns, ServiceAccount: name);
            return false;
        }

        return true;
    }

    /// <summary>
    /// The Pod, Secret and node references of a bound token, as k8s pkg/serviceaccount/claims.go reads them: the
    /// API server looks a bound Pod or Secret up by name and refuses the token unless the object's uid equals the
    /// claim's, so a reference without a name or a uid is never accepted; a node is looked up the same way when the
    /// token is bound to the node alone. On a Pod-bound token the node is informational (never looked up): a
    /// partial one is kept as Kubernetes keeps it (k8s.io/apiserver serviceaccount/util.go: the node uid only with
    /// a node name). Every name present must be a DNS-1123 subdomain, as the names of all three kinds are.
    /// </summary>
    private static bool CheckReferences(KubernetesClaimDocument k, string ns, string name, out ObjectReferenceDocument? node, out TokenFailure? failure)
    {
        node = null;
        if (!CheckReference(k.Pod, "pod", "Pod", ns, name, out failure) || !CheckReference(k.Secret, "secret", "Secret", ns, name, out failure))
        {
            return false;
        }

        if (k.Node is not { } reference)
        {
            return true;
        }

        if (k.Pod is null)
        {
            if (!CheckReference(reference, "node", "node", ns, name, out failure))
            {
                return false;
            }

            node = reference;
            return true;
        }

        if (string.IsNullOrEmpty(reference.Name))
        {
            // Informational and nameless: nothing to expose (the uid alone names no node).
            return true;
        }

        if (!KubernetesNames.IsDns1123Subdomain(reference.Name))
        {
            failure = new(KubernetesTokenFailureReason.InvalidClaims, NotASubdomain("node name", reference.Name, "node"), Namespace: ns, ServiceAccount: name);
            return false;
        }

        node = reference;
        return true;
    }

    private static bool CheckReference(ObjectReferenceDocument? reference, string claim, string kind, string ns, string name, out TokenFailure? failure)
    {
        failure = null;
        if (reference is null)
        {
            return true;
        }

        if (string.IsNullOrEmpty(reference.Name) || string.IsNullOrEmpty(reference.Uid))
        {
            failure = new(KubernetesTokenFailureReason.MissingClaim,
                $"the 'kubernetes.io' claim's {claim} reference has no {(string.IsNullOrEmpty(reference.Name) ? "name" : "uid")}: the API server accepts a token bound to a {kind} only when both name and uid match the {kind}",
                Namespace: ns, ServiceAccount: name);
            return false;
        }

        if (!KubernetesNames.IsDns1123Subdomain(reference.Name))
        {
            failure = new(KubernetesTokenFailureReason.InvalidClaims, NotASubdomain($"{claim} name", reference.Name, kind), Namespace: ns, ServiceAccount: name);
            return false;
        }

        return true;
    }

    private static string NotASubdomain(string what, string? value, string kind) =>
        $"{what} '{Shorten(value)}' is not a DNS-1123 subdomain (at most {KubernetesNames.MaxSubdomainLength} characters of a-z, 0-9, '-' and '.', each dot-separated part beginning and ending with a letter or digit): Kubernetes has no such {kind}";

    private static bool CheckSubject(string? subject, string ns, string name, out TokenFailure? failure)
    {
        failure = null;
        var prefix = KubernetesServiceAccountDefaults.UsernamePrefix;
        var span = subject.AsSpan();
        if (subject is not null
            && span.Length == prefix.Length + ns.Length + 1 + name.Length
            && span.StartsWith(prefix, StringComparison.Ordinal)
            && span.Slice(prefix.Length, ns.Length).SequenceEqual(ns)
            && span[prefix.Length + ns.Length] == ':'
            && span[(prefix.Length + ns.Length + 1)..].SequenceEqual(name))
        {
            return true;
        }

        failure = new(KubernetesTokenFailureReason.InvalidSubject,
            subject is null
                ? $"the token has no 'sub'; expected '{prefix}{Shorten(ns)}:{Shorten(name)}'"
                : $"'sub' ('{Shorten(subject)}') does not match the token's namespace and service account ('{prefix}{Shorten(ns)}:{Shorten(name)}')",
            Namespace: ns, ServiceAccount: name);
        return false;
    }

    private bool CheckLifetime(JwtPayloadDocument payload, DateTimeOffset now, string ns, string name,
        out DateTimeOffset? expires, out DateTimeOffset? notBefore, out DateTimeOffset? issuedAt, out TokenFailure? failure)
    {
        expires = notBefore = issuedAt = null;
        failure = null;
        foreach (var (claim, value) in new[] { ("exp", payload.ExpiresAt), ("nbf", payload.NotBefore), ("iat", payload.IssuedAt) })
        {
            if (value is < 0 or > MaxNumericDate)
            {
                failure = new(KubernetesTokenFailureReason.Malformed, OutOfRange(claim, value.Value), Namespace: ns, ServiceAccount: name);
                return false;
            }
        }

        if (payload.ExpiresAt is { } exp)
        {
            expires = DateTimeOffset.FromUnixTimeSeconds(exp);
            if (now > expires.Value + _skew)
            {
                failure = new(KubernetesTokenFailureReason.Expired, $"the token expired at {expires:o} (now {now:o})", Namespace: ns, ServiceAccount: name, Detail: Skew(), Cluster: _cluster);
                return false;
            }
        }

        if (payload.NotBefore is { } nbf)
        {
            notBefore = DateTimeOffset.FromUnixTimeSeconds(nbf);
            if (now + _skew < notBefore.Value)
            {
                failure = new(KubernetesTokenFailureReason.NotYetValid, $"the token is not valid before {notBefore:o} (now {now:o})", Namespace: ns, ServiceAccount: name, Detail: Skew(), Cluster: _cluster);
                return false;
            }
        }

        if (payload.IssuedAt is { } iat)
        {
            issuedAt = DateTimeOffset.FromUnixTimeSeconds(iat);
            if (now + _skew < issuedAt.Value)
            {
                failure = new(KubernetesTokenFailureReason.NotYetValid, $"the token was issued in the future ({issuedAt:o}; now {now:o})", Namespace: ns, ServiceAccount: name, Detail: Skew(), Cluster: _cluster);
                return false;
            }
        }

        return true;
    }

    private string Skew() => $"ClockSkew is {_skew.TotalSeconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture)} s";

    private static string OutOfRange(string claim, long value) =>
        $"'{claim}' ({value.ToString(System.Globalization.CultureInfo.InvariantCulture)}) is out of range: a time in a token must be between 0 and {MaxNumericDate} (9999-01-01)";

    private static bool VerifySignature(string token, int signingInputLength, string algorithm, SigningKey[] keys)
    {
        var signatureChars = token.AsSpan(signingInputLength + 1);
        var signature = ArrayPool<byte>.Shared.Rent(Base64Url.GetMaxDecodedLength(signatureChars.Length));
        var input = ArrayPool<byte>.Shared.Rent(signingInputLength);
        try
        {
            if (Base64Url.DecodeFromChars(signatureChars, signature, out _, out var signatureLength) != OperationStatus.Done)
            {
                return false;
            }

            var inputLength = Encoding.ASCII.GetBytes(token.AsSpan(0, signingInputLength), input);
            foreach (var key in keys)
            {
                // IdentityModel's provider, cached on the key (no per-call factory lookup).
                if (key.GetVerifier(algorithm).Verify(input, 0, inputLength, signature, 0, signatureLength))
                {
                    return true;
                }
            }

            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(input);
            ArrayPool<byte>.Shared.Return(signature);
        }
    }

    /// <summary>
    /// Cuts a value from the token to a length fit for a log line or an error description, and replaces
    /// control characters (CR, LF, …, and the Unicode line and paragraph separators) with '?', so that a
    /// token cannot forge log lines or stretch a description. Every token-derived value in a description or
    /// a log field goes through here.
    /// </summary>
    internal static string Shorten(string? value, int max = 64)
    {
        if (value is null)
        {
            return "(none)";
        }

        var length = Math.Min(value.Length, max);
        if (length < value.Length && length > 0 && char.IsHighSurrogate(value[length - 1]))
        {
            length--;
        }

        var truncated = length < value.Length;
        var kept = value.AsSpan(0, length);
        if (kept.IndexOfAny(ControlCharacters) < 0)
        {
            return truncated ? string.Concat(kept, "…") : value;
        }

        return string.Create(length + (truncated ? 1 : 0), (value, truncated), static (span, state) =>
        {
            var (source, cut) = state;
            var count = cut ? span.Length - 1 : span.Length;
            for (var i = 0; i < count; i++)
            {
                span[i] = ControlCharacters.Contains(source[i]) ? '?' : source[i];
            }

            if (cut)
            {
                span[^1] = '…';
            }
        });
    }

    /// <summary>As <see cref="Shorten"/>, but <see langword="null"/> stays <see langword="null"/> (an absent log field).</summary>
    internal static string? ShortenOrNull(string? value, int max = 64) => value is null ? null : Shorten(value, max);
}

/// <summary>What <see cref="KubernetesTokenValidator.Parse"/> read from a token: everything that needs no key.</summary>
internal readonly record struct ParsedToken(JwtHeaderDocument Header, JwtPayloadDocument Payload, int SigningInputLength);
