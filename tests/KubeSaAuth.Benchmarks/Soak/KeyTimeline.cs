// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;

namespace KubeSaAuth.Benchmarks.Soak;

/// <summary>Whether the API held a key while it handled a request.</summary>
internal enum Holding
{
    /// <summary>Every key set the API could have held during the request lists the key: it must be accepted.</summary>
    Held,

    /// <summary>Some could and some could not (a fetch was served around the request): either answer is right.</summary>
    Maybe,

    /// <summary>None lists it (never published, not fetched yet, or removed and fetched since): it must be refused.</summary>
    NotHeld,
}

/// <summary>
/// The key sets the issuer served, in order, with the time each was served. The API's keys at any instant are
/// those of the last JWKS it took (a failed fetch keeps them: stale while error). A set served at T is in
/// use at T + <see cref="Margin"/> at the latest, and not before T. So for a request sent at S and answered
/// at R, the sets the API could have used are the last one served before S − Margin (certainly in use at S)
/// and every one served up to R. One fetch runs at a time, so sets are taken in the order they were served.
/// </summary>
internal sealed class KeyTimeline
{
    private readonly List<(long At, HashSet<string> Kids)> _served = [];

    public static TimeSpan Margin { get; } = TimeSpan.FromSeconds(2);

    public int Count
    {
        get
        {
            lock (_served)
            {
                return _served.Count;
            }
        }
    }

    public void Add(long at, HashSet<string> kids)
    {
        lock (_served)
        {
            _served.Add((at, kids));
        }
    }

    public Holding Classify(string kid, long sentAt, long answeredAt)
    {
        var margin = (long)(Margin.TotalSeconds * Stopwatch.Frequency);
        lock (_served)
        {
            var certain = -1;
            for (var i = 0; i < _served.Count && _served[i].At + margin <= sentAt; i++)
            {
                certain = i;
            }

            // Before the first certain set, "no keys yet" is one of the possible states.
            var possible = certain < 0 ? 1 : 0;
            var holding = 0;
            var states = possible;
            for (var i = Math.Max(certain, 0); i < _served.Count && _served[i].At <= answeredAt; i++)
            {
                states++;
                if (_served[i].Kids.Contains(kid))
                {
                    holding++;
                }
            }

            return holding == 0 ? Holding.NotHeld : holding == states ? Holding.Held : Holding.Maybe;
        }
    }
}
