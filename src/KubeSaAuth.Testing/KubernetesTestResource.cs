// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Testing;

/// <summary>The resources a <see cref="KubernetesTestApiServer"/> serves.</summary>
public enum KubernetesTestResource
{
    /// <summary>Namespaces (<c>/api/v1/namespaces</c>, cluster-scoped).</summary>
    Namespaces,

    /// <summary>Pods (<c>/api/v1/pods</c>, <c>/api/v1/namespaces/{ns}/pods</c>).</summary>
    Pods,

    /// <summary>ServiceAccounts (<c>/api/v1/serviceaccounts</c>, <c>/api/v1/namespaces/{ns}/serviceaccounts</c>).</summary>
    ServiceAccounts,
}

/// <summary>How a <see cref="KubernetesTestApiServer"/> tells a client that its resourceVersion is too old.</summary>
public enum KubernetesTestExpiry
{
    /// <summary>The watch request is answered with HTTP 410 Gone and a <c>Status</c> (<c>reason: Expired</c>).</summary>
    HttpStatus,

    /// <summary>The watch is answered 200 and sends an <c>ERROR</c> event whose object is a <c>Status</c> with <c>code: 410</c>, as a real API server does for a watch from a compacted resourceVersion.</summary>
    ErrorEvent,
}

/// <summary>An object held by a <see cref="KubernetesTestApiServer"/>, as its metadata.</summary>
/// <param name="Resource">The resource.</param>
/// <param name="Namespace">The namespace; empty for a Namespace.</param>
/// <param name="Name">The name.</param>
/// <param name="Uid">The uid (a new one when an object is recreated under the same name).</param>
/// <param name="Labels">The labels.</param>
/// <param name="ResourceVersion">The resourceVersion of its last change.</param>
public sealed record KubernetesTestObject(
    KubernetesTestResource Resource,
    string Namespace,
    string Name,
    string Uid,
    IReadOnlyDictionary<string, string> Labels,
    string ResourceVersion);
