// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Benchmarks.Soak;

internal static class SoakRun
{
    public static Task<int> RunAsync(IReadOnlyList<string> args) => Task.FromResult(args.Count == 0 ? 0 : 2);
}
