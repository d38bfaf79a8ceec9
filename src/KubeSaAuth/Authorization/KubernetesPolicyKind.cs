// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;

namespace KubeSaAuth.Authorization;

/// <summary>
/// The kind of policy that refused a request (the <c>kind</c> tag of <c>kubesa.authorization.forbidden</c>):
/// <c>namespace</c>, <c>serviceaccount</c>, <c>namespace-selector</c>, <c>pod-selector</c>, or <c>other</c>.
/// </summary>
internal static class KubernetesPolicyKind
{
    public const string Namespace = "namespace";
    public const string ServiceAccount = "serviceaccount";
    public const string NamespaceSelector = "namespace-selector";
    public const string PodSelector = "pod-selector";
    public const string Other = "other";

    /// <summary>
    /// From the requirements that failed (when the authorization result handler saw them), else from the policy
    /// names on the endpoint (<c>namespace:</c>, <c>serviceaccount:</c>, <c>namespace-selector:</c>, <c>pod-selector:</c>).
    /// </summary>
    public static string Of(IEnumerable<IAuthorizationRequirement>? failed, EndpointMetadataCollection? metadata)
    {
        if (failed is not null)
        {
            foreach (var requirement in failed)
            {
                switch (requirement)
                {
                    case KubernetesServiceAccountRequirement single:
                        return single.ServiceAccountName is null ? Namespace : ServiceAccount;
                    case KubernetesAnyOfRequirement { Alternatives: [var first, ..] } anyOf:
                        return anyOf.Alternatives.All(a => a.ServiceAccountName is null) ? Namespace
                            : first.ServiceAccountName is not null && anyOf.Alternatives.All(a => a.ServiceAccountName is not null) ? ServiceAccount
                            : Other;
                }
            }
        }

        if (metadata is not null)
        {
            foreach (var data in metadata.GetOrderedMetadata<IAuthorizeData>())
            {
                if (FromPolicyName(data.Policy) is { } kind)
                {
                    return kind;
                }
            }
        }

        return Other;
    }

    /// <summary>The kind a policy name's prefix says, or <see langword="null"/> for a name of no Kubernetes kind.</summary>
    internal static string? FromPolicyName(string? policy)
    {
        var colon = policy?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        return colon <= 0 ? null : policy.AsSpan(0, colon) switch
        {
            Namespace => Namespace,
            ServiceAccount => ServiceAccount,
            NamespaceSelector => NamespaceSelector,
            PodSelector => PodSelector,
            _ => null,
        };
    }
}
