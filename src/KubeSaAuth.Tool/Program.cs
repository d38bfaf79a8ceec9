// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Tool;

/// <summary>The <c>kubesa</c> command.</summary>
internal static class Program
{
    public static Task<int> Main(string[] args) => InspectCommand.RunAsync(args, Console.In, Console.Out, Console.Error, CancellationToken.None);
}
