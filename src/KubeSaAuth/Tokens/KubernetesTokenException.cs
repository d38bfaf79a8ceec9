// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth;

/// <summary>A refused service-account token: the machine-readable <see cref="Reason"/> and a message that says what to fix, never the token.</summary>
public sealed class KubernetesTokenException : SecurityTokenValidationException
{
    /// <summary>Creates the exception.</summary>
    public KubernetesTokenException()
        : this(KubernetesTokenFailureReason.Malformed, "The token was refused.")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public KubernetesTokenException(string message)
        : this(KubernetesTokenFailureReason.Malformed, message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public KubernetesTokenException(string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = KubernetesTokenFailureReason.Malformed;
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="reason">Why the token was refused.</param>
    /// <param name="message">What is wrong and what to fix.</param>
    public KubernetesTokenException(KubernetesTokenFailureReason reason, string message)
        : base(message)
    {
        Reason = reason;
    }

    /// <summary>Why the token was refused.</summary>
    public KubernetesTokenFailureReason Reason { get; }
}
