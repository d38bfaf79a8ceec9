// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace KubeSaAuth.ClusterView;

/// <summary>
/// The objects of one resource (Namespaces, Pods or ServiceAccounts) by namespace and name, and the uids of
/// those seen deleted (tombstones), so that a deleted Pod's token is refused from memory. Written only by the
/// watch loops, read by requests without a lock (a value-tuple key: a lookup allocates nothing).
/// </summary>
internal sealed class ObjectStore(string resource, TimeProvider time)
{
    /// <summary>How long a deletion is remembered: a bound token lives an hour by default; after that a GET answers.</summary>
    internal static readonly TimeSpan TombstoneRetention = TimeSpan.FromHours(1);

    /// <summary>At most this many deletions are remembered (a burst of deletions beyond it is looked up with a GET instead).</summary>
    internal const int MaxTombstones = 100_000;

    /// <summary>The scope of a cluster-wide reflector (no namespace is named '*').</summary>
    private const string AllNamespaces = "*";

    private readonly ConcurrentDictionary<(string Namespace, string Name), ViewObject> _objects = new();
    private readonly ConcurrentDictionary<(string Namespace, string Name), Tombstone> _deleted = new();

    /// <summary>The scopes whose list or watch RBAC refuses now: a namespace, or <see cref="AllNamespaces"/>.</summary>
    private ImmutableHashSet<string> _refused = ImmutableHashSet.Create<string>(StringComparer.Ordinal);

    /// <summary>The resource, as in the API path (<c>pods</c>).</summary>
    public string Resource { get; } = resource;

    public int Count => _objects.Count;

    public int TombstoneCount => _deleted.Count;

    /// <summary>
    /// Whether RBAC refuses the list or watch of <paramref name="namespace"/>'s objects now: what the store holds of
    /// them (a LIST made before a refused WATCH) is not kept current, so their labels must not decide.
    /// </summary>
    public bool IsRefused(string @namespace)
    {
        var refused = Volatile.Read(ref _refused);
        return !refused.IsEmpty && (refused.Contains(AllNamespaces) || refused.Contains(@namespace));
    }

    /// <summary>Marks the scope of one reflector (<paramref name="namespace"/>, or <see langword="null"/>: all) refused by RBAC, or no longer.</summary>
    public void SetRefused(string? @namespace, bool refused)
    {
        var scope = @namespace ?? AllNamespaces;
        if (refused != Volatile.Read(ref _refused).Contains(scope))
        {
            ImmutableInterlocked.Update(ref _refused, static (set, arg) => arg.Refused ? set.Add(arg.Scope) : set.Remove(arg.Scope), (Scope: scope, Refused: refused));
        }
    }

    public bool TryGet(string @namespace, string name, out ViewObject? value) => _objects.TryGetValue((@namespace, name), out value);

    /// <summary>Whether the object <paramref name="namespace"/>/<paramref name="name"/> with <paramref name="uid"/> was seen deleted.</summary>
    public bool WasDeleted(string @namespace, string name, string uid) =>
        _deleted.TryGetValue((@namespace, name), out var tombstone) && string.Equals(tombstone.Uid, uid, StringComparison.Ordinal);

    public void Upsert(ViewObject value) => _objects[(value.Namespace, value.Name)] = value;

    /// <summary>A DELETED event: the tombstone is written before the object goes, so a reader always sees one of them.</summary>
    public void Delete(string @namespace, string name, string? uid)
    {
        var key = (@namespace, name);
        if (_objects.TryGetValue(key, out var current))
        {
            uid ??= current.Uid;
            if (!string.Equals(current.Uid, uid, StringComparison.Ordinal))
            {
                // An older incarnation's deletion: the object now under this name stays.
                Remember(key, uid);
                return;
            }
        }

        if (uid is not null)
        {
            Remember(key, uid);
        }

        _objects.TryRemove(key, out _);
    }

    /// <summary>
    /// After a complete LIST of <paramref name="scope"/> (one namespace, or <see langword="null"/>: all): the objects
    /// not in it were deleted while the view was not watching.
    /// </summary>
    public int RemoveUnseen(string? scope, HashSet<(string Namespace, string Name)> seen)
    {
        var removed = 0;
        foreach (var (key, value) in _objects)
        {
            if ((scope is null || string.Equals(key.Namespace, scope, StringComparison.Ordinal)) && !seen.Contains(key))
            {
                Remember(key, value.Uid);
                if (_objects.TryRemove(new KeyValuePair<(string, string), ViewObject>(key, value)))
                {
                    removed++;
                }
            }
        }

        return removed;
    }

    private void Remember((string Namespace, string Name) key, string uid)
    {
        var now = time.GetUtcNow().UtcTicks;
        _deleted[key] = new Tombstone(uid, now);
        if (_deleted.Count > MaxTombstones)
        {
            Prune(now);
        }
    }

    private void Prune(long now)
    {
        var cutoff = now - TombstoneRetention.Ticks;
        foreach (var (key, tombstone) in _deleted)
        {
            if (tombstone.DeletedAtTicks < cutoff)
            {
                _deleted.TryRemove(key, out _);
            }
        }

        if (_deleted.Count > MaxTombstones)
        {
            // Still full of recent deletions: forget the older half (a GET answers for them).
            var median = _deleted.Values.Select(t => t.DeletedAtTicks).Order().ElementAt(_deleted.Count / 2);
            foreach (var (key, tombstone) in _deleted)
            {
                if (tombstone.DeletedAtTicks <= median)
                {
                    _deleted.TryRemove(key, out _);
                }
            }
        }
    }

    private readonly record struct Tombstone(string Uid, long DeletedAtTicks);
}
