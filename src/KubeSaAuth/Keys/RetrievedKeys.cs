// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Keys;

/// <summary>What one fetch of discovery and JWKS returned.</summary>
internal sealed record RetrievedKeys(IReadOnlyList<JsonWebKey> Keys, string? DiscoveredIssuer, string JwksUri);
