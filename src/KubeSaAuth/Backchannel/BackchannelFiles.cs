// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.InCluster;

namespace KubeSaAuth.Backchannel;

/// <summary>
/// Which CA bundle and token file a scheme's backchannel uses: <c>BackchannelCaCertificatePath</c> and
/// <c>BackchannelTokenPath</c> when set, else — in-cluster, and always for TokenReview — the Pod's
/// <c>ca.crt</c> and <c>token</c>; else none (the machine's trust store, no token).
/// </summary>
internal static class BackchannelFiles
{
    public static (string? CaPath, string? TokenPath) Resolve(KubernetesServiceAccountOptions options, bool tokenReview)
    {
        var podFiles = options.InCluster || tokenReview;
        var ca = Explicit(options.BackchannelCaCertificatePath) ?? (podFiles ? Path.Combine(options.ServiceAccountDirectory, InClusterCredentials.CaFile) : null);
        var token = Explicit(options.BackchannelTokenPath) ?? (podFiles ? Path.Combine(options.ServiceAccountDirectory, InClusterCredentials.TokenFile) : null);
        return (ca, token);
    }

    /// <summary>The startup check: the files the backchannel uses exist; the message says what is wrong and what to set.</summary>
    public static string? Check(KubernetesServiceAccountOptions options, bool tokenReview)
    {
        var explicitCa = Explicit(options.BackchannelCaCertificatePath);
        var explicitToken = Explicit(options.BackchannelTokenPath);
        if ((options.InCluster || tokenReview) && (explicitCa is null || explicitToken is null))
        {
            // The Pod's files are needed for what is not given explicitly.
            var problem = InClusterCredentials.Check(options.ServiceAccountDirectory, checkCa: explicitCa is null, checkToken: explicitToken is null);
            if (problem is not null)
            {
                return problem;
            }
        }

        foreach (var (name, path) in new[] { (nameof(options.BackchannelCaCertificatePath), explicitCa), (nameof(options.BackchannelTokenPath), explicitToken) })
        {
            if (path is not null && !File.Exists(path))
            {
                return $"The '{name}' option names '{path}', which does not exist.";
            }
        }

        return null;
    }

    private static string? Explicit(string? path) => string.IsNullOrWhiteSpace(path) ? null : path;
}
