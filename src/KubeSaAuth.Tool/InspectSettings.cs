// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Tool;

/// <summary>Where the keys come from and what the service would expect.</summary>
internal sealed record InspectSettings
{
    /// <summary>
    /// The issuers the service accepts (its clusters, or one cluster's during an issuer migration); the token
    /// is judged against the one its <c>iss</c> names, which is also where discovery is, unless
    /// <see cref="MetadataAddress"/> says otherwise. Empty: the issuer is not checked.
    /// </summary>
    public IReadOnlyList<string> Issuers { get; init; } = [];

    /// <summary>The discovery document's address.</summary>
    public string? MetadataAddress { get; init; }

    /// <summary>A JWKS file's contents (instead of fetching).</summary>
    public string? JwksJson { get; init; }

    /// <summary>A JWKS address (instead of the discovery document's <c>jwks_uri</c>).</summary>
    public string? JwksUri { get; init; }

    /// <summary>The audiences the service accepts; empty: not checked.</summary>
    public IReadOnlyList<string> Audiences { get; init; } = [];

    /// <summary>The time to judge the token at; default now.</summary>
    public DateTimeOffset? Now { get; init; }

    /// <summary>Whether the service accepts legacy tokens.</summary>
    public bool AcceptLegacyTokens { get; init; }

    /// <summary>Whether plain-HTTP discovery and JWKS are allowed.</summary>
    public bool AllowHttp { get; init; }

    /// <summary>A PEM bundle trusted alone for discovery and JWKS (the BackchannelCaCertificatePath option).</summary>
    public string? CaCertificatePath { get; init; }

    /// <summary>A file whose content is sent as a bearer token to the issuer's origin (the BackchannelTokenPath option).</summary>
    public string? TokenPath { get; init; }

    /// <summary>The backchannel to fetch with; default a new client.</summary>
    public HttpMessageHandler? Handler { get; init; }
}
