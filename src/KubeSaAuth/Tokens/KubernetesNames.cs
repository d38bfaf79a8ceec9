// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Tokens;

/// <summary>
/// The name rules of Kubernetes objects (k8s.io/apimachinery pkg/util/validation: <c>IsDNS1123Label</c>,
/// <c>IsDNS1123Subdomain</c>). A namespace is a label; a service account, Pod, Secret and node are named by
/// subdomains. No such name holds ':', '@', '*', upper case or white space, so none can reach a username
/// (<c>system:serviceaccount:&lt;ns&gt;:&lt;name&gt;</c>) or a policy name with a meaning it does not have.
/// </summary>
internal static class KubernetesNames
{
    /// <summary>The longest DNS-1123 label (RFC 1123 §2.1).</summary>
    public const int MaxLabelLength = 63;

    /// <summary>The longest DNS-1123 subdomain.</summary>
    public const int MaxSubdomainLength = 253;

    /// <summary>At most 63 characters of <c>[a-z0-9-]</c>, starting and ending with a letter or digit (a namespace).</summary>
    public static bool IsDns1123Label(ReadOnlySpan<char> value) =>
        value.Length is > 0 and <= MaxLabelLength && IsLabel(value);

    /// <summary>
    /// At most 253 characters: labels of <c>[a-z0-9-]</c>, each starting and ending with a letter or digit,
    /// separated by '.' (a service account, Pod, Secret or node). As Kubernetes, the labels of a subdomain
    /// are not limited to 63 characters each; only the whole is.
    /// </summary>
    public static bool IsDns1123Subdomain(ReadOnlySpan<char> value)
    {
        if (value.Length is 0 or > MaxSubdomainLength)
        {
            return false;
        }

        foreach (var range in value.Split('.'))
        {
            if (!IsLabel(value[range]))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsLabel(ReadOnlySpan<char> label)
    {
        if (label.IsEmpty || !IsAlphanumeric(label[0]) || !IsAlphanumeric(label[^1]))
        {
            return false;
        }

        foreach (var c in label)
        {
            if (!IsAlphanumeric(c) && c != '-')
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsAlphanumeric(char c) => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c);
}
