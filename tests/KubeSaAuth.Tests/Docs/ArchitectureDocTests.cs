// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text.RegularExpressions;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.Docs;

/// <summary>docs/architecture.md is the map of src/KubeSaAuth/: it names every folder there and no other.</summary>
public sealed partial class ArchitectureDocTests
{
    private static readonly string[] NetworkParts = ["Keys", "InCluster", "TokenReview", "ClusterView"];

    [Fact]
    public void Every_folder_the_architecture_doc_names_exists_under_src()
    {
        var missing = DocumentedFolders().Where(folder => !Directory.Exists(Path.Combine(PackageRoot(), folder))).ToList();

        Assert.Empty(missing);
    }

    [Fact]
    public void Every_folder_under_src_is_named_in_the_architecture_doc()
    {
        var documented = DocumentedFolders();
        var undocumented = SourceFolders().Where(folder => !documented.Contains(folder)).ToList();

        Assert.Empty(undocumented);
    }

    [Fact]
    public void Only_the_network_parts_send_requests_on_the_server_side()
    {
        // Client/ is the calling side's DelegatingHandler: it forwards the application's own requests.
        var offenders = SourceFolders()
            .Where(folder => !NetworkParts.Contains(folder) && folder != "Client")
            .SelectMany(folder => Directory.EnumerateFiles(Path.Combine(PackageRoot(), folder), "*.cs", SearchOption.AllDirectories))
            .Concat(Directory.EnumerateFiles(PackageRoot(), "*.cs", SearchOption.TopDirectoryOnly))
            .Where(file => SendCall().IsMatch(File.ReadAllText(file)))
            .Select(Path.GetFileName)
            .ToList();

        Assert.Empty(offenders);
    }

    private static HashSet<string> DocumentedFolders()
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot.Path!, "docs", "architecture.md"));
        var folders = TableFolder().Matches(doc).Select(match => match.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(folders);
        return folders;
    }

    private static IEnumerable<string> SourceFolders() =>
        Directory.EnumerateDirectories(PackageRoot())
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(name => name is not ("bin" or "obj"));

    private static string PackageRoot()
    {
        Assert.NotNull(RepositoryRoot.Path);
        return Path.Combine(RepositoryRoot.Path, "src", "KubeSaAuth");
    }

    [GeneratedRegex(@"^\| `([A-Za-z]+)/` \|", RegexOptions.Multiline)]
    private static partial Regex TableFolder();

    [GeneratedRegex(@"\.(SendAsync|GetAsync|PostAsync|PutAsync|GetStreamAsync|GetStringAsync|GetByteArrayAsync)\(")]
    private static partial Regex SendCall();
}
