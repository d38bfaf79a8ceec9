// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.TokenReview;

/// <summary>The user the API server's TokenReview named (<c>status.user</c>): kept with the verdict in the shared cache.</summary>
internal sealed record ReviewedUser(string Username, string? Uid, IReadOnlyList<string> Groups, IReadOnlyDictionary<string, IReadOnlyList<string>> Extra);
