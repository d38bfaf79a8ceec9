// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Keys;

/// <summary>
/// Tells the key sources that listen to it that the issuer is known to answer again, so a source backing
/// off after failed fetches retries now instead of at the end of its back-off. Raised by the test kit's
/// stand-in issuer when an outage ends: a real issuer never says so, and in production the back-off stands.
/// </summary>
internal sealed class KeyRetrySignal
{
    private readonly object _gate = new();
    private readonly List<WeakReference<SigningKeySource>> _listeners = [];

    public void Subscribe(SigningKeySource source)
    {
        lock (_gate)
        {
            _listeners.RemoveAll(static r => !r.TryGetTarget(out _));
            _listeners.Add(new WeakReference<SigningKeySource>(source));
        }
    }

    /// <summary>Every listening source that is backing off after a failure starts a fetch now.</summary>
    public void Raise()
    {
        List<SigningKeySource> sources = [];
        lock (_gate)
        {
            foreach (var reference in _listeners)
            {
                if (reference.TryGetTarget(out var source))
                {
                    sources.Add(source);
                }
            }
        }

        foreach (var source in sources)
        {
            source.RetryNowAfterFailure();
        }
    }
}
