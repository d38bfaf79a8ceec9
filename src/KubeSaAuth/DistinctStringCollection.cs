// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.ObjectModel;

namespace KubeSaAuth;

/// <summary>
/// A list of strings that holds each value once (ordinal): adding a value already there does nothing. So
/// <c>Audiences</c> and <c>AdditionalIssuers</c> are the union of configuration and code, in that order —
/// <c>o.Audiences.Add("reports-api")</c> with <c>reports-api</c> also in configuration leaves it there once.
/// </summary>
internal sealed class DistinctStringCollection : Collection<string>
{
    protected override void InsertItem(int index, string item)
    {
        if (!Contains(item))
        {
            base.InsertItem(index, item);
        }
    }

    protected override void SetItem(int index, string item)
    {
        var existing = IndexOf(item);
        if (existing >= 0 && existing != index)
        {
            // The value is already elsewhere: replacing this entry with it leaves it once.
            RemoveItem(index);
            return;
        }

        base.SetItem(index, item);
    }
}
