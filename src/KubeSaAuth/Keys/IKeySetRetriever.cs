// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Keys;

/// <summary>Where a <see cref="SigningKeySource"/> gets its keys: the API server, a key file, or keys given in code.</summary>
internal interface IKeySetRetriever
{
    /// <summary>Where the keys come from (a URL or a file path), for logs, errors and the health check.</summary>
    string Address { get; }

    /// <summary>What kind of source this is.</summary>
    KeySourceKind Kind { get; }

    /// <summary>
    /// The keys, or <see langword="null"/> when they are unchanged since the last successful retrieval
    /// (a key file whose content is the same). Throws <see cref="KeyFetchException"/> with what went wrong.
    /// </summary>
    Task<RetrievedKeys?> RetrieveAsync(CancellationToken cancellationToken);
}

/// <summary>The kinds of key source.</summary>
internal enum KeySourceKind
{
    /// <summary>Discovery and JWKS fetched from the issuer (or the API server).</summary>
    Remote,

    /// <summary>A JWKS or PEM file (<c>JwksPath</c>), re-read every <c>RefreshInterval</c>.</summary>
    File,

    /// <summary>Keys given in code (<c>SigningKeys</c>).</summary>
    Static,

    /// <summary>An IdentityModel configuration manager given in code (<c>ConfigurationManager</c>).</summary>
    ConfigurationManager,
}
