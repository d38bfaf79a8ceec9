// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Keys;

/// <summary>What a key source reports about itself (health check, metrics).</summary>
internal sealed record KeySourceStatus(int KeyCount, bool HasKeys, bool IsStale, DateTimeOffset? LastSuccess, DateTimeOffset? LastFailure, string? LastError, int ConsecutiveFailures,
    KeySourceKind Kind = KeySourceKind.Remote, string? Address = null, IReadOnlyList<WeakKey>? WeakKeys = null);
