// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.ClusterView;

/// <summary>
/// An API server refusal: its HTTP status (or the <c>code</c> of an ERROR event's <c>Status</c>), <c>reason</c>
/// (<c>Forbidden</c>, <c>NotFound</c>, <c>Expired</c>, ...) and <c>message</c> (a 403 names the verb and resource).
/// </summary>
internal sealed class ApiStatusException(int code, string? reason, string message) : Exception(message)
{
    public int Code { get; } = code;

    public string? Reason { get; } = reason;

    /// <summary>410 Gone: the resourceVersion (or continue token) is too old; only a new LIST helps.</summary>
    public bool IsExpired => Code == 410;

    public bool IsForbidden => Code == 403;
}
