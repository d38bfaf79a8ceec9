// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Demo;

/// <summary>The outcome of a demo run.</summary>
/// <param name="Calls">Every call, in order.</param>
public sealed record DemoResult(IReadOnlyList<DemoCall> Calls)
{
    /// <summary>Whether every call returned what it should.</summary>
    public bool Succeeded => Calls.Count > 0 && Calls.All(c => c.Passed);
}
