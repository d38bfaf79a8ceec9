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

    internal string? GetValidationError()
    {
        // The point of TokenReview is to learn soon that a Pod was deleted: a verdict kept for hours defeats it.
        if (CacheDuration < TimeSpan.Zero || CacheDuration > TimeSpan.FromHours(1))
        {
            return $"The 'TokenReview:{nameof(CacheDuration)}' option ({CacheDuration}) must be between 00:00:00 and 01:00:00 (the API server itself caches for 10 seconds).";
        }

        if (MaxConcurrency < 1)
        {
            return $"The 'TokenReview:{nameof(MaxConcurrency)}' option ({MaxConcurrency}) must be at least 1.";
        }

        return null;
    }
}
