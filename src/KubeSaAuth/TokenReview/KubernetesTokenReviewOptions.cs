// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth;

/// <summary>
/// Options of the TokenReview check: after local validation succeeds, the API server is asked for its own
/// verdict (<c>POST /apis/authentication.k8s.io/v1/tokenreviews</c>), which also knows when the Pod,
/// Secret or service account behind a still-unexpired token was deleted.
/// </summary>
public sealed class KubernetesTokenReviewOptions
{
    /// <summary>Whether TokenReview is performed. Needs the <c>system:auth-delegator</c> ClusterRole.</summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool Enabled { get; set; }

    /// <summary>
    /// The API server base address, e.g. <c>https://kubernetes.default.svc</c>.
    /// </summary>
    /// <value>Default <see langword="null"/>: the in-cluster API server.</value>
    public string? ApiServer { get; set; }

    /// <summary>How long a verdict is reused for the same token; never beyond the token's expiry.</summary>
    /// <value>Default 10 seconds, as the API server's own token cache.</value>
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest number of TokenReview requests in flight at once.</summary>
    /// <value>Default 16.</value>
    public int MaxConcurrency { get; set; } = 16;

    /// <summary>
    /// Whether a token that passed local validation is accepted when the API server cannot be asked
    /// (error or timeout). Off, the request is refused (fail closed).
    /// </summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool FallBackToLocalValidation { get; set; }

    /// <summary>
    /// Whether verdicts are shared with the other replicas through the application's
    /// <see cref="Microsoft.Extensions.Caching.Hybrid.HybridCache"/> (register it and its distributed cache, e.g.
    /// <c>AddStackExchangeRedisCache</c> + <c>AddHybridCache</c>), so a fleet asks the API server about a
    /// token once per <see cref="CacheDuration"/> rather than once per replica. Entries are keyed by a SHA-256
    /// of the token, never the token; refusals are shared too; a shared value can refuse a token, never
    /// admit one that local validation refused. When the shared cache fails or is slow, each replica falls
    /// back to its own verdicts and the API server.
    /// </summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool SharedCache { get; set; }

    /// <summary>
    /// With <see cref="SharedCache"/>, how long a replica keeps a shared verdict in memory before reading the
    /// shared cache again: the bound on how long a refusal learned by one replica (for instance through the
    /// <c>kubernetes:live</c> policy) takes to hold on all of them. Never longer than <see cref="CacheDuration"/>.
    /// </summary>
    /// <value>Default 1 second.</value>
    public TimeSpan SharedCacheLocalDuration { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// With <see cref="SharedCache"/>, the longest wait for a read or write of the shared cache; past it the
    /// replica uses its own verdicts and the API server, and leaves the shared cache alone for 5 seconds.
    /// </summary>
    /// <value>Default 500 milliseconds.</value>
    public TimeSpan SharedCacheTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Returns the first error, or <see langword="null"/>; option names are written <paramref name="prefix"/> + name.</summary>
    internal string? GetValidationError(string prefix = "TokenReview:")
    {
        // The point of TokenReview is to learn soon that a Pod was deleted: a verdict kept for hours defeats it.
        if (CacheDuration < TimeSpan.Zero || CacheDuration > TimeSpan.FromHours(1))
        {
            return $"The '{prefix}{nameof(CacheDuration)}' option ({CacheDuration}) must be between 00:00:00 and 01:00:00 (the API server itself caches for 10 seconds).";
        }

        if (MaxConcurrency < 1)
        {
            return $"The '{prefix}{nameof(MaxConcurrency)}' option ({MaxConcurrency}) must be at least 1.";
        }

        if (SharedCacheLocalDuration < TimeSpan.Zero || SharedCacheLocalDuration > TimeSpan.FromMinutes(1))
        {
            return $"The '{prefix}{nameof(SharedCacheLocalDuration)}' option ({SharedCacheLocalDuration}) must be between 00:00:00 and 00:01:00: it bounds how long a refusal seen by one replica takes to reach the others.";
        }

        if (SharedCacheTimeout <= TimeSpan.Zero || SharedCacheTimeout > TimeSpan.FromSeconds(30))
        {
            return $"The '{prefix}{nameof(SharedCacheTimeout)}' option ({SharedCacheTimeout}) must be more than 00:00:00 and at most 00:00:30.";
        }

        return null;
    }
}
