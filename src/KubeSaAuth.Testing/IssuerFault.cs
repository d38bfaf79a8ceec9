// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Testing;

/// <summary>How a <see cref="KubernetesTestIssuer"/> misbehaves, to test outages.</summary>
public enum IssuerFault
{
    /// <summary>Answers normally.</summary>
    None,

    /// <summary>Answers 503 Service Unavailable.</summary>
    ServiceUnavailable,

    /// <summary>Never answers (until the request is cancelled).</summary>
    Hang,

    /// <summary>Answers 200 with a body that is not JSON.</summary>
    InvalidJson,

    /// <summary>Answers 401, as an API server does to a caller without the discovery RBAC binding.</summary>
    Unauthorized,
}
