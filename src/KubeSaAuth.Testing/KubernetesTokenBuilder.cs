// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Testing;

/// <summary>
/// Builds service-account tokens as a Kubernetes API server does — bound (projected) by default, legacy
/// on request — and lets a test bend any part of them. Obtain one from <see cref="KubernetesTestIssuer.CreateToken"/>.
/// </summary>
public sealed class KubernetesTokenBuilder
{
    private readonly KubernetesTestIssuer _issuer;
    private readonly JsonObject _header = new();
    private readonly JsonObject _payload = new();
    private readonly List<string> _removedClaims = [];
    private TestSigningKey _key;
    private bool _legacy;
    private string? _keyId;
    private bool _keyIdSet;
    private readonly string _namespace;
    private readonly string _serviceAccount;
    private string _serviceAccountUid = Guid.NewGuid().ToString();
    private string[] _audiences;
    private DateTimeOffset? _issuedAt;
    private TimeSpan _lifetime = TimeSpan.FromHours(1);
    private DateTimeOffset? _warnAfter;
    private (string Name, string Uid)? _pod;
    private (string Name, string Uid)? _node;
    private (string Name, string Uid)? _secret;
    private string? _issuerOverride;
    private string? _subjectOverride;
    private bool _tamper;

    internal KubernetesTokenBuilder(KubernetesTestIssuer issuer, string @namespace, string serviceAccount)
    {
        _issuer = issuer;
        _key = issuer.ActiveKey;
        _namespace = @namespace;
        _serviceAccount = serviceAccount;
        _audiences = [.. issuer.DefaultAudiences];
    }

    /// <summary>The token's audiences (<c>aud</c>).</summary>
    /// <param name="audiences">The audiences.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder WithAudience(params string[] audiences)
    {
        _audiences = audiences;
        return this;
    }

    /// <summary>Binds the token to a Pod.</summary>
    /// <param name="name">The Pod name.</param>
    /// <param name="uid">The Pod UID; default a new GUID.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder WithPod(string name, string? uid = null)
    {
        _pod = (name, uid ?? Guid.NewGuid().ToString());
        return this;
    }

    /// <summary>Names the node (of the Pod, or the node the token is bound to).</summary>
    /// <param name="name">The node name.</param>
    /// <param name="uid">The node UID; default a new GUID.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder WithNode(string name, string? uid = null)
    {
        _node = (name, uid ?? Guid.NewGuid().ToString());
        return this;
    }

    /// <summary>Binds the token to a Secret (or, for a legacy token, names the Secret holding it).</summary>
    /// <param name="name">The Secret name.</param>
    /// <param name="uid">The Secret UID; default a new GUID.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder WithSecret(string name, string? uid = null)
    {
        _secret = (name, uid ?? Guid.NewGuid().ToString());
        return this;
    }

    /// <summary>The service account's UID.</summary>
    /// <param name="uid">The UID.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder WithServiceAccountUid(string uid)
    {
        _serviceAccountUid = uid;
        return this;
    }

    /// <summary>When the token was issued (<c>iat</c> and <c>nbf</c>); default the issuer's current time.</summary>
    /// <param name="issuedAt">The time.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder IssuedAt(DateTimeOffset issuedAt)
    {
        _issuedAt = issuedAt;
        return this;
    }

    /// <summary>The token's lifetime (<c>exp</c> − <c>iat</c>); default one hour.</summary>
    /// <param name="lifetime">The lifetime.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder WithLifetime(TimeSpan lifetime)
    {
        _lifetime = lifetime;
        return this;
    }

    /// <summary>Makes the token expired: issued two hours ago, with a one-hour lifetime.</summary>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder Expired()
    {
        _issuedAt = _issuer.TimeProvider.GetUtcNow().AddHours(-2);
        _lifetime = TimeSpan.FromHours(1);
        return this;
    }

    /// <summary>Makes the token not valid yet: issued (<c>iat</c>, <c>nbf</c>) ten minutes in the future, past any clock skew the handler allows.</summary>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder NotYetValid()
    {
        _issuedAt = _issuer.TimeProvider.GetUtcNow().AddMinutes(10);
        return this;
    }

    /// <summary>Makes the token name an audience no service accepts (<c>wrong-audience</c>) instead of <see cref="KubernetesTestIssuer.DefaultAudiences"/>.</summary>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder WithWrongAudience() => WithAudience("wrong-audience");

    /// <summary>Signs with a fresh key that the issuer never published: refused as an unknown key.</summary>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder SignedWithUnknownKey() => SignedWith(TestSigningKey.Create(_key.Algorithm));

    /// <summary>Makes the token an extended auto-mounted one: a year's <c>exp</c>, with <c>warnafter</c> at <paramref name="warnAfter"/>.</summary>
    /// <param name="warnAfter">When it would have expired; default one hour after issue.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder Extended(DateTimeOffset? warnAfter = null)
    {
        _lifetime = TimeSpan.FromDays(365);
        _warnAfter = warnAfter ?? (_issuedAt ?? _issuer.TimeProvider.GetUtcNow()).AddHours(1);
        return this;
    }

    /// <summary>Makes a legacy (secret-based) token: <c>iss</c> <c>kubernetes/serviceaccount</c>, flat claims, no <c>exp</c>, no <c>aud</c>.</summary>
    /// <param name="secretName">The Secret's name; default <c>{serviceaccount}-token</c>.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder Legacy(string? secretName = null)
    {
        _legacy = true;
        _secret = (secretName ?? _serviceAccount + "-token", Guid.NewGuid().ToString());
        return this;
    }

    /// <summary>Signs with another key (of this issuer or not).</summary>
    /// <param name="key">The key.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder SignedWith(TestSigningKey key)
    {
        _key = key;
        return this;
    }

    /// <summary>Sets the header's <c>kid</c>; <see langword="null"/> leaves it out.</summary>
    /// <param name="keyId">The kid.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder WithKeyId(string? keyId)
    {
        _keyId = keyId;
        _keyIdSet = true;
        return this;
    }

    /// <summary>Sets the <c>iss</c> claim.</summary>
    /// <param name="issuer">The issuer.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder WithIssuer(string issuer)
    {
        _issuerOverride = issuer;
        return this;
    }

    /// <summary>Sets the <c>sub</c> claim.</summary>
    /// <param name="subject">The subject.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder WithSubject(string subject)
    {
        _subjectOverride = subject;
        return this;
    }

    /// <summary>Sets (or replaces) a payload claim.</summary>
    /// <param name="name">The claim name.</param>
    /// <param name="value">The value, as a JSON node.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder WithClaim(string name, JsonNode? value)
    {
        _payload[name] = value;
        return this;
    }

    /// <summary>Removes a payload claim the builder would otherwise write.</summary>
    /// <param name="name">The claim name.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder WithoutClaim(string name)
    {
        _removedClaims.Add(name);
        return this;
    }

    /// <summary>Sets (or replaces) a header parameter.</summary>
    /// <param name="name">The parameter name.</param>
    /// <param name="value">The value, as a JSON node.</param>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder WithHeader(string name, JsonNode? value)
    {
        _header[name] = value;
        return this;
    }

    /// <summary>
    /// Changes the payload after signing, as an attacker would: the token then claims to be
    /// <c>kube-system/admin</c> with consistent claims, so that only its signature gives it away
    /// (refused as <see cref="KubernetesTokenFailureReason.InvalidSignature"/>).
    /// </summary>
    /// <returns>This builder.</returns>
    public KubernetesTokenBuilder Tampered()
    {
        _tamper = true;
        return this;
    }

    /// <summary>Builds the signed compact JWS.</summary>
    /// <returns>The token.</returns>
    public string Build()
    {
        var payload = BuildPayload();
        var header = new JsonObject { ["alg"] = _key.Algorithm };
        var kid = _keyIdSet ? _keyId : _key.KeyId;
        if (kid is not null)
        {
            header["kid"] = kid;
        }

        foreach (var (name, value) in _header)
        {
            header[name] = value?.DeepClone();
        }

        var signingInput = Encode(header) + "." + Encode(payload);
        var signature = Sign(_key, header["alg"]!.GetValue<string>(), signingInput);
        if (_tamper)
        {
            Impersonate(payload, "kube-system", "admin");
            signingInput = Encode(header) + "." + Encode(payload);
        }

        return signingInput + "." + signature;
    }

    /// <summary>Signs <paramref name="signingInput"/> with <paramref name="key"/> using IdentityModel's providers.</summary>
    /// <param name="key">The key.</param>
    /// <param name="algorithm">The algorithm.</param>
    /// <param name="signingInput">The <c>header.payload</c> text.</param>
    /// <returns>The base64url signature.</returns>
    public static string Sign(TestSigningKey key, string algorithm, string signingInput)
    {
        ArgumentNullException.ThrowIfNull(key);
        var factory = key.SecurityKey.CryptoProviderFactory;
        var provider = factory.CreateForSigning(key.SecurityKey, algorithm);
        try
        {
            return Base64UrlEncoder.Encode(provider.Sign(Encoding.ASCII.GetBytes(signingInput)));
        }
        finally
        {
            factory.ReleaseSignatureProvider(provider);
        }
    }

    private JsonObject BuildPayload()
    {
        var now = _issuedAt ?? _issuer.TimeProvider.GetUtcNow();
        var payload = new JsonObject();
        if (_legacy)
        {
            payload["iss"] = _issuerOverride ?? KubernetesServiceAccountDefaults.LegacyIssuer;
            payload["kubernetes.io/serviceaccount/namespace"] = _namespace;
            payload["kubernetes.io/serviceaccount/secret.name"] = _secret!.Value.Name;
            payload["kubernetes.io/serviceaccount/service-account.name"] = _serviceAccount;
            payload["kubernetes.io/serviceaccount/service-account.uid"] = _serviceAccountUid;
            payload["sub"] = _subjectOverride ?? $"{KubernetesServiceAccountDefaults.UsernamePrefix}{_namespace}:{_serviceAccount}";
        }
        else
        {
            var kubernetes = new JsonObject
            {
                ["namespace"] = _namespace,
            };
            if (_node is { } node)
            {
                kubernetes["node"] = new JsonObject { ["name"] = node.Name, ["uid"] = node.Uid };
            }

            if (_pod is { } pod)
            {
                kubernetes["pod"] = new JsonObject { ["name"] = pod.Name, ["uid"] = pod.Uid };
            }

            if (_secret is { } secret)
            {
                kubernetes["secret"] = new JsonObject { ["name"] = secret.Name, ["uid"] = secret.Uid };
            }

            kubernetes["serviceaccount"] = new JsonObject { ["name"] = _serviceAccount, ["uid"] = _serviceAccountUid };
            if (_warnAfter is { } warnAfter)
            {
                kubernetes["warnafter"] = warnAfter.ToUnixTimeSeconds();
            }

            payload["aud"] = new JsonArray([.. _audiences.Select(a => (JsonNode)JsonValue.Create(a))]);
            payload["exp"] = (now + _lifetime).ToUnixTimeSeconds();
            payload["iat"] = now.ToUnixTimeSeconds();
            payload["iss"] = _issuerOverride ?? _issuer.Issuer;
            payload["jti"] = Guid.NewGuid().ToString();
            payload["kubernetes.io"] = kubernetes;
            payload["nbf"] = now.ToUnixTimeSeconds();
            payload["sub"] = _subjectOverride ?? $"{KubernetesServiceAccountDefaults.UsernamePrefix}{_namespace}:{_serviceAccount}";
        }

        foreach (var name in _removedClaims)
        {
            payload.Remove(name);
        }

        foreach (var (name, value) in _payload)
        {
            payload[name] = value?.DeepClone();
        }

        return payload;
    }

    // Rewrites every claim that names the caller, keeping them consistent with each other, so that the
    // claim rules (sub matches namespace and name) pass and the signature is what refuses the token.
    private static void Impersonate(JsonObject payload, string @namespace, string serviceAccount)
    {
        if (payload["kubernetes.io"] is JsonObject kubernetes)
        {
            kubernetes["namespace"] = @namespace;
            if (kubernetes["serviceaccount"] is JsonObject account)
            {
                account["name"] = serviceAccount;
            }
        }

        if (payload.ContainsKey("kubernetes.io/serviceaccount/namespace"))
        {
            payload["kubernetes.io/serviceaccount/namespace"] = @namespace;
            payload["kubernetes.io/serviceaccount/service-account.name"] = serviceAccount;
        }

        payload["sub"] = $"{KubernetesServiceAccountDefaults.UsernamePrefix}{@namespace}:{serviceAccount}";
    }

    private static string Encode(JsonObject json) =>
        Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json.ToJsonString(new JsonSerializerOptions { WriteIndented = false })));
}
