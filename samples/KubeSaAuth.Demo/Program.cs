// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Demo;

/// <summary><c>dotnet run --project samples/KubeSaAuth.Demo</c>: the whole job on an embedded stand-in cluster.</summary>
internal static class Program
{
    private static async Task<int> Main()
    {
        var result = await DemoRunner.RunAsync(Console.Out);
        return result.Succeeded ? 0 : 1;
    }
}
