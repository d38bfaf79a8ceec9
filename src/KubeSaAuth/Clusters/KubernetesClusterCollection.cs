// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections;

namespace KubeSaAuth;

/// <summary>
/// The clusters of one scheme, by name (<c>Authentication:Schemes:{scheme}:Clusters:{name}</c>). Each is
/// configured by actions (binding its configuration section, then the code's delegates, in that order) that
/// run when the scheme starts, on a copy of the scheme-level values: whatever order code and configuration
/// set them in, a scheme-level value of a per-cluster option is the default of every cluster.
/// </summary>
/// <remarks>
/// Names compare case-insensitively, as configuration keys do, so configuration and code can add to the
/// same cluster. The name is the cluster's <see cref="KubernetesClaimTypes.Cluster"/> claim and the name
/// <c>@name</c> policies match.
/// </remarks>
public sealed class KubernetesClusterCollection : IReadOnlyCollection<string>
{
    private readonly List<Definition> _clusters = [];

    /// <summary>The number of clusters.</summary>
    public int Count => _clusters.Count;

    /// <summary>
    /// Adds the cluster <paramref name="name"/>, or, when it is there already, one more action configuring it.
    /// </summary>
    /// <param name="name">The cluster's name: its claim, its <c>@name</c> policies, its key in configuration.</param>
    /// <param name="configure">Sets the cluster's options; runs after configuration's values, on the scheme-level defaults.</param>
    /// <returns>This collection, to add more.</returns>
    public KubernetesClusterCollection Add(string name, Action<KubernetesClusterOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(configure);
        Find(name, create: true)!.Actions.Add(configure);
        return this;
    }

    /// <summary>Whether a cluster named <paramref name="name"/> is there.</summary>
    /// <param name="name">The cluster's name (case-insensitive).</param>
    public bool Contains(string name) => Find(name, create: false) is not null;

    /// <summary>Removes the cluster <paramref name="name"/> with every action configuring it.</summary>
    /// <param name="name">The cluster's name (case-insensitive).</param>
    /// <returns>Whether it was there.</returns>
    public bool Remove(string name) => Find(name, create: false) is { } found && _clusters.Remove(found);

    /// <summary>Removes every cluster.</summary>
    public void Clear() => _clusters.Clear();

    /// <summary>The names of the clusters, in the order they were first added.</summary>
    /// <returns>An enumerator of the names.</returns>
    public IEnumerator<string> GetEnumerator() => _clusters.Select(c => c.Name).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The clusters with their actions, in the order they were first added.</summary>
    internal IReadOnlyList<Definition> Definitions => _clusters;

    private Definition? Find(string name, bool create)
    {
        foreach (var cluster in _clusters)
        {
            if (string.Equals(cluster.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return cluster;
            }
        }

        if (!create)
        {
            return null;
        }

        var added = new Definition(name);
        _clusters.Add(added);
        return added;
    }

    /// <summary>One cluster: its name and the actions that configure it.</summary>
    internal sealed class Definition(string name)
    {
        public string Name { get; } = name;

        public List<Action<KubernetesClusterOptions>> Actions { get; } = [];
    }
}
