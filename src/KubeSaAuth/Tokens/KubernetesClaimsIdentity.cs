// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Security.Claims;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Tokens;

/// <summary>
/// The identity this handler issues. Authorization requirements trust namespace and service-account
/// claims only on this type, so another handler cannot satisfy a <c>namespace:</c> policy by issuing
/// claims of the same names.
/// </summary>
/// <remarks>
/// One is made per request from the immutable <see cref="KubernetesServiceAccount"/> (cached or not), so
/// nothing mutable is shared between requests. Its claims are created on first read: the namespace
/// policies read <see cref="ServiceAccount"/>, and a request that never enumerates claims never pays for
/// them. Every member that reads or changes claims materializes them first, so to a caller it behaves as
/// an identity built with its claims. Copies: <see cref="Clone"/> returns this type with every claim;
/// <c>new ClaimsIdentity(identity)</c> reads <see cref="AuthenticationType"/> (which materializes) before
/// copying the base claim list, so it copies every claim too — but into a plain identity that the
/// namespace policies do not trust. <c>new ClaimsIdentity(identity, claims, authenticationType, …)</c> with
/// an explicit authentication type reads no overridable member first and copies no claims unless they
/// were read before (docs/security.md).
/// </remarks>
internal sealed class KubernetesClaimsIdentity : CaseSensitiveClaimsIdentity
{
    private readonly bool _usernameIsName;
    private bool _materialized;

    public KubernetesClaimsIdentity(KubernetesServiceAccount serviceAccount, string authenticationType)
        : this(serviceAccount, authenticationType, ClaimTypes.Name, ClaimTypes.Role)
    {
    }

    /// <summary>An identity whose <c>Name</c> and roles read <paramref name="nameType"/> and <paramref name="roleType"/> (the NameClaimType and RoleClaimType options).</summary>
    public KubernetesClaimsIdentity(KubernetesServiceAccount serviceAccount, string authenticationType, string nameType, string roleType)
        : base(authenticationType, nameType, roleType)
    {
        ServiceAccount = serviceAccount;
        _usernameIsName = string.Equals(nameType, ClaimTypes.Name, StringComparison.Ordinal);
    }

    private KubernetesClaimsIdentity(KubernetesClaimsIdentity other)
        : base(Materialized(other))
    {
        ServiceAccount = other.ServiceAccount;
        _usernameIsName = other._usernameIsName;
        _materialized = true;
    }

    public KubernetesServiceAccount ServiceAccount { get; }

    /// <summary>The authentication type (the scheme), read without building the claims.</summary>
    internal string? Scheme => base.AuthenticationType;

    /// <summary>Whether the claims have been created (tests, diagnostics).</summary>
    internal bool ClaimsMaterialized => _materialized;

    public override IEnumerable<Claim> Claims
    {
        get
        {
            EnsureClaims();
            return base.Claims;
        }
    }

    /// <summary>The username without building the claims when <c>Name</c> reads the default claim type; else that claim's value.</summary>
    public override string? Name
    {
        get
        {
            if (_materialized || !_usernameIsName)
            {
                EnsureClaims();
                return base.Name;
            }

            return ServiceAccount.Username;
        }
    }

    /// <summary>
    /// Materializes the claims: <c>new ClaimsIdentity(identity)</c> (the copy constructor claims
    /// transformations use) reads this property, then copies the base claim list directly, bypassing every
    /// override. Nothing on the handler's or authorization's path reads it, so a request that reads no
    /// claims still builds none.
    /// </summary>
    public override string? AuthenticationType
    {
        get
        {
            EnsureClaims();
            return base.AuthenticationType;
        }
    }

    public override ClaimsIdentity Clone() => new KubernetesClaimsIdentity(this);

    public override void AddClaim(Claim claim)
    {
        EnsureClaims();
        base.AddClaim(claim);
    }

    public override void AddClaims(IEnumerable<Claim?> claims)
    {
        EnsureClaims();
        base.AddClaims(claims);
    }

    public override void RemoveClaim(Claim? claim)
    {
        EnsureClaims();
        base.RemoveClaim(claim);
    }

    public override bool TryRemoveClaim(Claim? claim)
    {
        EnsureClaims();
        return base.TryRemoveClaim(claim);
    }

    public override IEnumerable<Claim> FindAll(Predicate<Claim> match)
    {
        EnsureClaims();
        return base.FindAll(match);
    }

    public override IEnumerable<Claim> FindAll(string type)
    {
        EnsureClaims();
        return base.FindAll(type);
    }

    public override Claim? FindFirst(Predicate<Claim> match)
    {
        EnsureClaims();
        return base.FindFirst(match);
    }

    public override Claim? FindFirst(string type)
    {
        EnsureClaims();
        return base.FindFirst(type);
    }

    public override bool HasClaim(Predicate<Claim> match)
    {
        EnsureClaims();
        return base.HasClaim(match);
    }

    public override bool HasClaim(string type, string value)
    {
        EnsureClaims();
        return base.HasClaim(type, value);
    }

    public override void WriteTo(BinaryWriter writer)
    {
        EnsureClaims();
        base.WriteTo(writer);
    }

    private static KubernetesClaimsIdentity Materialized(KubernetesClaimsIdentity identity)
    {
        identity.EnsureClaims();
        return identity;
    }

    private void EnsureClaims()
    {
        // ServiceAccount is null only while a base constructor runs (Clone): nothing to add then.
        if (_materialized || ServiceAccount is null)
        {
            return;
        }

        // Set first: base.AddClaims calls back into overridden members.
        _materialized = true;
        base.AddClaims(CreateClaims(ServiceAccount));
    }

    private static List<Claim> CreateClaims(KubernetesServiceAccount sa)
    {
        var issuer = sa.Issuer;
        var claims = new List<Claim>(16)
        {
            new(ClaimTypes.Name, sa.Username, ClaimValueTypes.String, issuer),
            new(ClaimTypes.NameIdentifier, sa.Username, ClaimValueTypes.String, issuer),
            new(KubernetesClaimTypes.Namespace, sa.Namespace, ClaimValueTypes.String, issuer),
            new(KubernetesClaimTypes.ServiceAccountName, sa.Name, ClaimValueTypes.String, issuer),
            new(KubernetesClaimTypes.TokenKind, sa.IsLegacy ? KubernetesClaimTypes.LegacyTokenKind : KubernetesClaimTypes.BoundTokenKind, ClaimValueTypes.String, issuer),
            new(KubernetesClaimTypes.Cluster, sa.Cluster, ClaimValueTypes.String, issuer),
        };
        Add(claims, KubernetesClaimTypes.ServiceAccountUid, sa.Uid, issuer);
        Add(claims, KubernetesClaimTypes.PodName, sa.PodName, issuer);
        Add(claims, KubernetesClaimTypes.PodUid, sa.PodUid, issuer);
        Add(claims, KubernetesClaimTypes.NodeName, sa.NodeName, issuer);
        Add(claims, KubernetesClaimTypes.NodeUid, sa.NodeUid, issuer);
        Add(claims, KubernetesClaimTypes.SecretName, sa.SecretName, issuer);
        Add(claims, KubernetesClaimTypes.SecretUid, sa.SecretUid, issuer);
        Add(claims, KubernetesClaimTypes.TokenId, sa.TokenId, issuer);
        Add(claims, KubernetesClaimTypes.CredentialId, sa.CredentialId, issuer);
        foreach (var audience in sa.Audiences)
        {
            claims.Add(new Claim(KubernetesClaimTypes.Audience, audience, ClaimValueTypes.String, issuer));
        }

        if (sa.ExpiresAt is { } exp)
        {
            claims.Add(new Claim("exp", exp.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), ClaimValueTypes.Integer64, issuer));
        }

        // The groups Kubernetes itself grants a service account, as roles.
        foreach (var group in sa.Groups)
        {
            claims.Add(new Claim(ClaimTypes.Role, group, ClaimValueTypes.String, issuer));
        }

        return claims;
    }

    private static void Add(List<Claim> claims, string type, string? value, string issuer)
    {
        if (!string.IsNullOrEmpty(value))
        {
            claims.Add(new Claim(type, value, ClaimValueTypes.String, issuer));
        }
    }
}
