// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Tool;

/// <summary>The <c>kubesa</c> command: <c>inspect</c> (and help) or <c>dev-issuer</c>.</summary>
internal static class Program
{
    public static Task<int> Main(string[] args) => args is ["dev-issuer", ..]
        ? DevIssuerCommand.RunAsync(args[1..], Console.Out, Console.Error, CancellationToken.None)
        : InspectCommand.RunAsync(args, Console.In, Console.Out, Console.Error, CancellationToken.None);
}
