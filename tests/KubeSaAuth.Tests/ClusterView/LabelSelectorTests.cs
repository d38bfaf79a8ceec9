// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.ClusterView;

namespace KubeSaAuth.Tests.ClusterView;

/// <summary>The Kubernetes label-selector syntax (k8s.io/apimachinery/pkg/labels/selector.go), parsed and matched.</summary>
public sealed class LabelSelectorTests
{
    public static TheoryData<string, string, bool> Matches() => new()
    {
        { "app=checkout", "app=checkout", true },
        { "app=checkout", "app=payments", false },
        { "app=checkout", "", false },
        { "app==checkout", "app=checkout", true },
        { "tier!=canary", "", true },
        { "tier!=canary", "tier=canary", false },
        { "tier!=canary", "tier=stable", true },
        { "env in (prod,staging)", "env=staging", true },
        { "env in (prod,staging)", "env=dev", false },
        { "env in (prod,staging)", "", false },
        { "env notin (prod)", "", true },
        { "env notin (prod)", "env=prod", false },
        { "team", "team=a", true },
        { "team", "", false },
        { "!legacy", "", true },
        { "!legacy", "legacy=true", false },
        { "app in (checkout,payments),tier!=canary", "app=payments", true },
        { "app in (checkout,payments),tier!=canary", "app=payments,tier=canary", false },
        { "  app = checkout ,  tier != canary  ", "app=checkout", true },
        { "example.com/team=a", "example.com/team=a", true },
        { "app=", "app=", true },
        { "app=", "app=x", false },
        { "replicas>2", "replicas=3", true },
        { "replicas>2", "replicas=2", false },
        { "replicas<2", "replicas=x", false },
        { "", "", true },
        { "", "any=thing", true },
        { "env in (prod, staging) , !legacy", "env=prod", true },
    };

    [Theory]
    [MemberData(nameof(Matches))]
    public void Parses_and_matches_the_kubernetes_syntax(string selector, string labels, bool expected)
    {
        var parsed = LabelSelector.Parse(selector);

        Assert.Equal(expected, parsed.Matches(Labels(labels)));
    }

    [Theory]
    [InlineData("!legacy")]
    [InlineData("tier!=canary")]
    [InlineData("")]
    public void Unknown_labels_match_no_selector(string selector)
    {
        Assert.False(LabelSelector.Parse(selector).Matches(null));
    }

    [Theory]
    [InlineData("=x", "expected a label key")]
    [InlineData("app in ()", "needs at least one value")]
    [InlineData("app in (a", "never closed")]
    [InlineData("app in a", "must be followed by '('")]
    [InlineData("app=a,", "must be followed by another requirement")]
    [InlineData("app=a b", "expected ',' or the end")]
    [InlineData("app ~ x", "expected '=', '==', '!=', 'in', 'notin'")]
    [InlineData("app=@x", "label value '@x' is not valid")]
    [InlineData("app_=x", "label key 'app_' is not valid")]
    [InlineData("-app=x", "label key '-app' is not valid")]
    [InlineData("a/b/c=x", "is not valid")]
    [InlineData("Example.COM/team=x", "prefix that is not a DNS-1123 subdomain")]
    [InlineData("/team=x", "prefix that is not a DNS-1123 subdomain")]
    [InlineData("replicas>two", "needs a whole number")]
    [InlineData("app in (a,b c)", "expected ',' or ')'")]
    public void Refuses_what_kubernetes_refuses_saying_why(string selector, string reason)
    {
        var parsed = LabelSelector.TryParse(selector, out _, out var error);

        Assert.False(parsed);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_keys_and_values_longer_than_kubernetes_allows()
    {
        Assert.False(LabelSelector.TryParse(new string('a', 64) + "=x", out _, out _));
        Assert.False(LabelSelector.TryParse("app=" + new string('a', 64), out _, out _));
        Assert.True(LabelSelector.TryParse(new string('a', 63) + "=" + new string('b', 63), out _, out _));
    }

    private static Dictionary<string, string> Labels(string text) =>
        text.Length == 0 ? [] : text.Split(',').Select(p => p.Split('=')).ToDictionary(p => p[0], p => p[1]);
}
