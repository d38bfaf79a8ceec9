// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.Vectors;

/// <summary>
/// The vectors file lives in the repository, and its NOTICE.md credits every source the file itself names
/// (repository, revision, section), so third-party material never arrives uncredited.
/// </summary>
public sealed partial class VectorsNoticeTests
{
    private static readonly string Notice = File.ReadAllText(Path.Combine(Path.GetDirectoryName(TokenVectors.Path)!, "NOTICE.md"));

    [Fact]
    public void The_vectors_file_is_in_the_repository_test_folder()
    {
        Assert.True(File.Exists(TokenVectors.Path), $"{TokenVectors.Path} is missing: a clone must carry the vectors.");
        Assert.StartsWith(RepositoryRoot.Path!, TokenVectors.Path, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> Sources()
    {
        var data = new TheoryData<string, string>();
        foreach (var (section, node) in TokenVectors.Document)
        {
            if (node is JsonObject obj && obj["source"] is { } source)
            {
                data.Add(section, source.GetValue<string>());
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Sources))]
    public void Notice_names_the_repository_revision_and_section_of_each_source(string section, string source)
    {
        var repository = RepositoryName().Match(source);
        Assert.True(repository.Success, $"the source of '{section}' names no owner/repository: {source}");

        Assert.Contains($"`{section}`", Notice, StringComparison.Ordinal);
        Assert.Contains($"[{repository.Value}](https://github.com/{repository.Value})", Notice, StringComparison.Ordinal);
        foreach (Match revision in Revision().Matches(source))
        {
            Assert.Contains(revision.Groups[1].Value, Notice, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Notice_names_every_section_of_the_file()
    {
        foreach (var (section, _) in TokenVectors.Document)
        {
            if (!section.StartsWith('_'))
            {
                Assert.Contains($"`{section}`", Notice, StringComparison.Ordinal);
            }
        }
    }

    [GeneratedRegex(@"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")]
    private static partial Regex RepositoryName();

    [GeneratedRegex(@"@ ([0-9a-f]{40})")]
    private static partial Regex Revision();
}
