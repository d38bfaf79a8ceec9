// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Tokens;

namespace KubeSaAuth.TokenReview;

/// <summary>A verdict read from the shared cache: <see cref="Failure"/> null means authenticated.</summary>
internal sealed record SharedVerdict(TokenFailure? Failure, DateTimeOffset ExpiresAt);
