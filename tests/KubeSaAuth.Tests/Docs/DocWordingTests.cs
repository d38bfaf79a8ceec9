// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Text.RegularExpressions;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.Docs;

/// <summary>README and docs: the first screen, the words of a development tracker, and packages a user adds.</summary>
public sealed partial class DocWordingTests
{
    public static TheoryData<string> Documents()
    {
        var data = new TheoryData<string> { "README.md" };
        foreach (var file in Directory.GetFiles(Path.Combine(RepositoryRoot.Path!, "docs"), "*.md").Order(StringComparer.Ordinal))
        {
            data.Add("docs/" + Path.GetFileName(file));
        }

        return data;
    }

    [Fact]
    public void The_first_screen_runs_the_demo_and_the_tests_first_then_shows_dev_issuer()
    {
        var firstScreen = string.Join('\n', Read("README.md").Split('\n').TakeWhile(l => !l.StartsWith("## ", StringComparison.Ordinal)));
        var commands = firstScreen.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("dotnet ", StringComparison.Ordinal)).ToList();

        Assert.True(commands.Count >= 2, firstScreen);
        Assert.StartsWith("dotnet run --project samples/KubeSaAuth.Demo", commands[0], StringComparison.Ordinal);
        Assert.StartsWith("dotnet test", commands[1], StringComparison.Ordinal);
        Assert.Contains("kubesa dev-issuer", firstScreen, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Names_no_internal_tracker(string document)
    {
        var matches = TrackerWords().Matches(Read(document)).Select(m => m.Value).ToList();

        Assert.True(matches.Count == 0, $"{document} speaks of the development tracker: {string.Join(", ", matches)}");
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Asks_no_one_to_add_Mvc_Testing_which_comes_with_the_test_kit(string document)
    {
        // Its newest version may not restore on net10.0; KubeSaAuth.Testing brings the one it was built with.
        Assert.DoesNotContain("package Microsoft.AspNetCore.Mvc.Testing", Read(document), StringComparison.Ordinal);
        Assert.DoesNotContain("add package Microsoft.AspNetCore.Mvc.Testing", Read(document), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void A_token_preset_is_shown_ending_in_Build(string document)
    {
        // Expired(), Tampered(), ... return the builder: assigned without .Build(), the variable is no token.
        var unbuilt = UnbuiltPreset().Matches(Read(document)).Select(m => m.Value).ToList();

        Assert.True(unbuilt.Count == 0, $"{document} assigns a token builder as if it were a token: {string.Join(" | ", unbuilt)}");
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void A_snippet_with_Issuer_and_JwksUri_sets_no_MetadataAddress(string document)
    {
        // With Issuer and JwksUri set, discovery is not fetched unless MetadataAddress is also set (SchemeRuntimeFactory):
        // a snippet setting all three fetches discovery while the docs say it is not needed.
        var both = DocSnippet.All().Where(s => s.File == document && s.Code.Contains("o.JwksUri =", StringComparison.Ordinal)
            && s.Code.Contains("o.Issuer =", StringComparison.Ordinal) && s.Code.Contains("o.MetadataAddress =", StringComparison.Ordinal)).ToList();

        Assert.True(both.Count == 0, $"{document} line {both.FirstOrDefault()?.Line}: a snippet sets Issuer, JwksUri and MetadataAddress");
    }

    private static string Read(string relative) => File.ReadAllText(Path.Combine(RepositoryRoot.Path!, relative));

    [GeneratedRegex(@"\b[Ii]ssue \d+|\bissue's\b|\bthis round\b|\bprevious round\b|\bsession\b|\btracker\b", RegexOptions.CultureInvariant)]
    private static partial Regex TrackerWords();

    [GeneratedRegex(@"var \w+ = [^;\n]*\.(Expired|NotYetValid|Tampered|Legacy|WithWrongAudience|SignedWithUnknownKey)\(\)\s*;", RegexOptions.CultureInvariant)]
    private static partial Regex UnbuiltPreset();
}
