// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>The directory holding KubeSaAuth.sln, found by walking up from the test binaries.</summary>
internal static class RepositoryRoot
{
    private static readonly Lazy<string?> Found = new(Find);

    /// <summary>The repository root, or <see langword="null"/> when the binaries do not sit below one.</summary>
    public static string? Path => Found.Value;

    private static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "KubeSaAuth.sln")))
            {
                return dir.FullName;
            }
        }

        return null;
    }
}
