// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.ClusterView;
using KubeSaAuth.Tokens;
using Microsoft.AspNetCore.Authorization;

namespace KubeSaAuth.Authorization;

/// <summary>
/// Requires a Kubernetes caller whose namespace (<c>namespace-selector:</c>) or Pod (<c>pod-selector:</c>) carries
/// labels matching a Kubernetes label selector, as the cluster view sees them now. Labels the view does not know
/// (view off, RBAC refused, namespace not watched, token not bound to a Pod) match nothing: the policy refuses (403).
/// </summary>
internal sealed class KubernetesLabelSelectorRequirement(LabelTarget target, LabelSelector selector, string? cluster)
    : AuthorizationHandler<KubernetesLabelSelectorRequirement>, IKubernetesIdentityRequirement
{
    public LabelTarget Target { get; } = target;

    public LabelSelector Selector { get; } = selector;

    public string? Cluster { get; } = cluster;

    public bool IsSatisfiedBy(KubernetesServiceAccount serviceAccount)
    {
        if (Cluster is not null && !string.Equals(serviceAccount.Cluster, Cluster, StringComparison.Ordinal))
        {
            return false;
        }

        var view = serviceAccount.View;
        if (view is null)
        {
            return false;
        }

        return Selector.Matches(Target == LabelTarget.Namespace ? view.GetNamespaceLabels(serviceAccount.Namespace) : view.GetPodLabels(serviceAccount));
    }

    /// <inheritdoc />
    public override Task HandleAsync(AuthorizationHandlerContext context)
    {
        ArgumentNullException.ThrowIfNull(context);

        // What the base class does (every requirement of this type in the policy), without its LINQ enumerator
        // and async state machine: this runs on every authorized request.
        if (context.Requirements is not IReadOnlyList<IAuthorizationRequirement> requirements)
        {
            return base.HandleAsync(context);
        }

        for (var i = 0; i < requirements.Count; i++)
        {
            if (requirements[i] is KubernetesLabelSelectorRequirement requirement)
            {
                Handle(context, requirement);
            }
        }

        return Task.CompletedTask;
    }

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, KubernetesLabelSelectorRequirement requirement)
    {
        Handle(context, requirement);
        return Task.CompletedTask;
    }

    private static void Handle(AuthorizationHandlerContext context, KubernetesLabelSelectorRequirement requirement) =>
        KubernetesIdentityRequirement.Handle(context, requirement);

    public override string ToString() =>
        $"Kubernetes {(Target == LabelTarget.Namespace ? "namespace" : "Pod")} labels matching '{Selector.Text}'{(Cluster is null ? string.Empty : $" of cluster '{Cluster}'")}";
}

/// <summary>Whose labels a <see cref="KubernetesLabelSelectorRequirement"/> reads.</summary>
internal enum LabelTarget
{
    /// <summary>The caller's namespace.</summary>
    Namespace,

    /// <summary>The Pod the caller's token is bound to.</summary>
    Pod,
}
