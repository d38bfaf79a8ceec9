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
internal sealed class KubernetesClaimsIdentity : CaseSensitiveClaimsIdentity
{
    public KubernetesClaimsIdentity(KubernetesServiceAccount serviceAccount, string authenticationType)
        : base(CreateClaims(serviceAccount), authenticationType, ClaimTypes.Name, ClaimTypes.Role)
    {
        ServiceAccount = serviceAccount;
    }

    private KubernetesClaimsIdentity(KubernetesClaimsIdentity other)
        : base(other)
    {
        ServiceAccount = other.ServiceAccount;
    }

    public KubernetesServiceAccount ServiceAccount { get; }

    public override ClaimsIdentity Clone() => new KubernetesClaimsIdentity(this);

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
