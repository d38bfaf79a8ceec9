// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections;
using System.Text;

namespace KubeSaAuth.Diagnostics;

/// <summary>
/// The state of the <c>TokenRefused</c> event (101): every field structured (absent ones are
/// <see langword="null"/>), and a message that names only the fields the token had, so a reader never sees
/// <c>[kid (none), audience , namespace ]</c>. [LoggerMessage] cannot leave a placeholder out of its text.
/// </summary>
/// <remarks>
/// <c>Description</c> is what the caller was told; <c>Detail</c> adds, for the operator only, the configured values
/// the token failed against (accepted audiences and issuers, limits), which <c>error_description</c> never carries.
/// </remarks>
internal sealed class TokenRefusedLogState(KubernetesTokenFailureReason reason, string description, string? detail, string scheme, string? cluster, string? keyId, string? issuer, string? audience, string? @namespace, string? serviceAccount)
    : IReadOnlyList<KeyValuePair<string, object?>>
{
    public const string OriginalFormat = "Refused a service-account token ({Reason}): {Description} ({Detail}) [scheme {Scheme}, cluster {Cluster}, kid {KeyId}, issuer {Issuer}, audience {Audience}, namespace {Namespace}, service account {ServiceAccount}].";

    public static readonly Func<TokenRefusedLogState, Exception?, string> Formatter = static (state, _) => state.ToString();

    public int Count => 11;

    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new("Reason", reason),
        1 => new("Description", description),
        2 => new("Detail", detail),
        3 => new("Scheme", scheme),
        4 => new("Cluster", cluster),
        5 => new("KeyId", keyId),
        6 => new("Issuer", issuer),
        7 => new("Audience", audience),
        8 => new("Namespace", @namespace),
        9 => new("ServiceAccount", serviceAccount),
        10 => new("{OriginalFormat}", OriginalFormat),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString()
    {
        var text = new StringBuilder("Refused a service-account token (").Append(reason).Append("): ").Append(description.TrimEnd('.'));
        if (!string.IsNullOrEmpty(detail))
        {
            text.Append(" (").Append(detail).Append(')');
        }

        var first = true;
        void Part(string label, string? value)
        {
            if (string.IsNullOrEmpty(value))
            {
                return;
            }

            text.Append(first ? " [" : ", ").Append(label).Append(' ').Append(value);
            first = false;
        }

        Part("scheme", scheme);
        if (!string.Equals(cluster, scheme, StringComparison.Ordinal))
        {
            Part("cluster", cluster);
        }

        Part("caller", @namespace is not null && serviceAccount is not null ? $"{@namespace}/{serviceAccount}" : null);
        if (@namespace is null || serviceAccount is null)
        {
            Part("namespace", @namespace);
            Part("service account", serviceAccount);
        }

        Part("kid", keyId);
        Part("issuer", issuer);
        Part("audience", audience);
        return text.Append(first ? "." : "].").ToString();
    }
}
