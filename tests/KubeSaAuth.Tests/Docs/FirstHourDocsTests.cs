// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text.RegularExpressions;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.Docs;

/// <summary>What a new user trips over in the first hour with the docs, each checked.</summary>
public sealed partial class FirstHourDocsTests
{
    private static string Read(string relative) => File.ReadAllText(Path.Combine(RepositoryRoot.Path!, relative));

    [Fact]
    public void The_testing_example_calls_from_the_namespace_the_getting_started_app_admits()
    {
        var app = DocSnippet.All().First(s => s.File == "docs/getting-started.md" && s.Code.Contains("WebApplication.CreateBuilder", StringComparison.Ordinal));
        var example = DocSnippet.All().First(s => s.File == "docs/testing.md" && s.Kind == SnippetKind.File && s.Code.Contains("/reports", StringComparison.Ordinal));

        var admitted = ReportsPolicy().Match(app.Code);
        var caller = CallerNamespace().Match(example.Code);

        Assert.True(admitted.Success, "getting-started.md maps /reports with no namespace: policy");
        Assert.True(caller.Success, "testing.md's example mints no token with a namespace");
        Assert.Equal(admitted.Groups[1].Value, caller.Groups[1].Value);
    }

    [Fact]
    public void A_doc_whose_snippet_uses_FakeTimeProvider_names_its_package()
    {
        var users = DocSnippet.All().Where(s => s.Code.Contains("FakeTimeProvider", StringComparison.Ordinal)).Select(s => s.File).Distinct().ToList();

        Assert.NotEmpty(users);
        Assert.All(users, file => Assert.True(
            Read(file).Contains("Microsoft.Extensions.TimeProvider.Testing", StringComparison.Ordinal),
            $"{file} shows FakeTimeProvider without naming its package, Microsoft.Extensions.TimeProvider.Testing"));
    }

    [Fact]
    public void The_testing_doc_uses_FakeTimeProvider_and_names_its_package()
    {
        var text = Read("docs/testing.md");

        Assert.Contains("new FakeTimeProvider(", text, StringComparison.Ordinal);
        Assert.Contains("dotnet add package Microsoft.Extensions.TimeProvider.Testing", text, StringComparison.Ordinal);
    }

    [GeneratedRegex("""MapGet\("/reports",[^\n]*RequireAuthorization\("namespace:([^"@]+)"\)""")]
    private static partial Regex ReportsPolicy();

    [GeneratedRegex("""CreateClientWithToken\(issuer, "([^"]+)",""")]
    private static partial Regex CallerNamespace();
}
