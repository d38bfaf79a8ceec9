// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.ClusterView;

/// <summary>
/// What the view keeps of a Namespace, Pod or ServiceAccount: name, namespace, uid, labels, and when its
/// deletion began. Immutable: an update replaces the object, so a request reads a consistent one without a lock.
/// </summary>
internal sealed class ViewObject(string @namespace, string name, string uid, LabelSet labels, DateTimeOffset? deletionTimestamp)
{
    /// <summary>The namespace; empty for a Namespace object.</summary>
    public string Namespace { get; } = @namespace;

    public string Name { get; } = name;

    public string Uid { get; } = uid;

    public LabelSet Labels { get; } = labels;

    /// <summary>When a graceful deletion began (<c>metadata.deletionTimestamp</c>); the object still exists until then.</summary>
    public DateTimeOffset? DeletionTimestamp { get; } = deletionTimestamp;
}
