// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth;

/// <summary>Why a token was refused; also the <c>reason</c> tag of the <c>kubesa.tokens.validated</c> metric.</summary>
public enum KubernetesTokenFailureReason
{
    /// <summary>The token is not a well-formed compact JWS (segments, base64url, JSON, duplicate keys, types).</summary>
    Malformed,

    /// <summary>The token is longer than <see cref="KubernetesServiceAccountOptions.MaxTokenSize"/>.</summary>
    TooLarge,

    /// <summary>The request carried several or unusable <c>Authorization</c> headers.</summary>
    InvalidAuthorizationHeader,

    /// <summary>The header names an algorithm other than RS256, ES256, ES384, ES512, or one the key does not allow.</summary>
    UnsupportedAlgorithm,

    /// <summary>The header carries a parameter that is never honoured (<c>crit</c>, <c>jku</c>, <c>x5u</c>, <c>jwk</c>, <c>b64</c>, ...), or the token is encrypted (JWE).</summary>
    UnsupportedHeader,

    /// <summary>The token has neither the bound nor the legacy service-account claims.</summary>
    NotServiceAccountToken,

    /// <summary>A legacy (secret-based) token, and <see cref="KubernetesServiceAccountOptions.AcceptLegacyTokens"/> is off.</summary>
    LegacyTokenRefused,

    /// <summary>The <c>iss</c> claim is not the configured issuer.</summary>
    InvalidIssuer,

    /// <summary>No <c>aud</c> of the token is one of the configured audiences.</summary>
    InvalidAudience,

    /// <summary>A bound token without <c>exp</c>.</summary>
    MissingExpiration,

    /// <summary>The token expired (<c>exp</c>), or is past <c>warnafter</c> while that is enforced.</summary>
    Expired,

    /// <summary>The token is not valid yet (<c>nbf</c>, or <c>iat</c> in the future).</summary>
    NotYetValid,

    /// <summary>A required Kubernetes claim (namespace, service account name or uid) is missing or empty.</summary>
    MissingClaim,

    /// <summary>The <c>sub</c> claim is not <c>system:serviceaccount:&lt;namespace&gt;:&lt;name&gt;</c> of the token's own claims.</summary>
    InvalidSubject,

    /// <summary>No key of the issuer's key set has the token's <c>kid</c>, even after a refresh.</summary>
    UnknownKey,

    /// <summary>The issuer's keys could not be fetched yet, so the token could not be checked.</summary>
    KeysUnavailable,

    /// <summary>The signature does not verify with the issuer's key.</summary>
    InvalidSignature,

    /// <summary>The API server's TokenReview did not authenticate the token.</summary>
    TokenReviewRejected,

    /// <summary>The API server could not be asked for a TokenReview and the check fails closed.</summary>
    TokenReviewUnavailable,

    /// <summary>An <c>OnTokenValidated</c> event refused the caller.</summary>
    RejectedByEvent,

    /// <summary>
    /// A Kubernetes claim holds a value Kubernetes never issues: a namespace that is not a DNS-1123 label, or a
    /// service account, Pod, Secret or node name that is not a DNS-1123 subdomain.
    /// </summary>
    InvalidClaims,

    /// <summary>
    /// The token's <c>kid</c> names an RSA key of the issuer under 2048 bits (RFC 7518 §3.3), refused when the
    /// keys were read: such a key can be factored, so nothing it signs is trusted.
    /// </summary>
    WeakKey,

    /// <summary>
    /// The Pod or ServiceAccount the token is bound to no longer exists with the token's uid (deleted, or recreated
    /// under the same name), as the cluster view saw it (<see cref="KubernetesClusterViewOptions.Revocation"/>).
    /// </summary>
    BoundObjectGone,
}
