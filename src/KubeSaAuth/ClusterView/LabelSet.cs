// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace KubeSaAuth.ClusterView;

/// <summary>
/// The labels of one object: two parallel arrays of interned strings, scanned linearly (objects carry a
/// handful of labels; a dictionary per Pod would cost several times the memory at 50,000 Pods). Immutable.
/// </summary>
internal sealed class LabelSet : IReadOnlyDictionary<string, string>
{
    public static readonly LabelSet Empty = new([], []);

    private readonly string[] _keys;
    private readonly string[] _values;

    private LabelSet(string[] keys, string[] values)
    {
        _keys = keys;
        _values = values;
    }

    /// <summary>The labels of <paramref name="labels"/>, every string taken from <paramref name="pool"/>.</summary>
    public static LabelSet Create(IReadOnlyDictionary<string, string>? labels, StringPool pool)
    {
        if (labels is null || labels.Count == 0)
        {
            return Empty;
        }

        var keys = new string[labels.Count];
        var values = new string[labels.Count];
        var i = 0;
        foreach (var (key, value) in labels)
        {
            keys[i] = pool.Intern(key);
            values[i] = pool.Intern(value);
            i++;
        }

        return new LabelSet(keys, values);
    }

    public int Count => _keys.Length;

    public string this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"No label '{key}'.");

    public IEnumerable<string> Keys => _keys;

    public IEnumerable<string> Values => _values;

    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
    {
        var i = IndexOf(key);
        if (i < 0)
        {
            value = null;
            return false;
        }

        value = _values[i];
        return true;
    }

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        for (var i = 0; i < _keys.Length; i++)
        {
            yield return new KeyValuePair<string, string>(_keys[i], _values[i]);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int IndexOf(string key)
    {
        var keys = _keys;
        for (var i = 0; i < keys.Length; i++)
        {
            // Interned keys compare by reference first; a key from a selector compares by value.
            if (ReferenceEquals(keys[i], key) || string.Equals(keys[i], key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}

/// <summary>
/// One copy of each label string (and namespace name) per view: <c>app=checkout</c> on 5,000 Pods is held once.
/// Not <see cref="string.Intern(string)"/>, which never frees; bounded, then started over.
/// </summary>
internal sealed class StringPool
{
    private const int MaxStrings = 200_000;
    private readonly ConcurrentDictionary<string, string> _strings = new(StringComparer.Ordinal);

    public int Count => _strings.Count;

    public string Intern(string value)
    {
        if (_strings.TryGetValue(value, out var pooled))
        {
            return pooled;
        }

        if (_strings.Count >= MaxStrings)
        {
            _strings.Clear();
        }

        return _strings.GetOrAdd(value, value);
    }
}
