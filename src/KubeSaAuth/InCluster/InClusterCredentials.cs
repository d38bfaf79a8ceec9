// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.InCluster;

/// <summary>
/// A Pod's service-account directory: the cluster CA (<c>ca.crt</c>) and the token (<c>token</c>) the
/// backchannel uses in-cluster (trust and sending live in <c>Backchannel/</c>, shared with the options
/// that name the files explicitly).
/// </summary>
internal static class InClusterCredentials
{
    public const string TokenFile = "token";
    public const string CaFile = "ca.crt";
    public const string NamespaceFile = "namespace";

    /// <summary>The startup check: the directory and its files exist; the message says what is wrong.</summary>
    public static string? Check(string directory, bool checkCa = true, bool checkToken = true)
    {
        if (!Directory.Exists(directory))
        {
            return $"In-cluster mode: the service-account directory '{directory}' does not exist (not running in a Pod? is automountServiceAccountToken false?). Set 'ServiceAccountDirectory', or turn 'InCluster' off and set 'Issuer' (outside the cluster, 'BackchannelCaCertificatePath' and 'BackchannelTokenPath' name the CA and token files).";
        }

        foreach (var (file, check) in new[] { (CaFile, checkCa), (TokenFile, checkToken) })
        {
            if (check && !File.Exists(Path.Combine(directory, file)))
            {
                return $"In-cluster mode: '{Path.Combine(directory, file)}' does not exist (not running in a Pod, or the service-account volume is incomplete?).";
            }
        }

        return null;
    }
}
