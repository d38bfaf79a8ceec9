// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Reflection;
using KubeSaAuth.Caching;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.Docs;

/// <summary>The reference docs keep up with the code: every option and every refusal reason is documented.</summary>
public sealed class ReferenceDocsTests
{
    public static TheoryData<string> OptionNames()
    {
        var names = new TheoryData<string>();
        foreach (var property in typeof(KubernetesServiceAccountOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
        {
            if (property.PropertyType == typeof(KubernetesTokenReviewOptions))
            {
                foreach (var nested in property.PropertyType.GetProperties(BindingFlags.Public | BindingFlags.Instance))
                {
                    names.Add($"TokenReview:{nested.Name}");
                }
            }
            else if (property.PropertyType == typeof(KubernetesValidationCacheOptions))
            {
                foreach (var nested in property.PropertyType.GetProperties(BindingFlags.Public | BindingFlags.Instance))
                {
                    names.Add($"ValidationCache:{nested.Name}");
                }
            }
            else if (property.PropertyType == typeof(KubernetesClusterViewOptions))
            {
                foreach (var nested in property.PropertyType.GetProperties(BindingFlags.Public | BindingFlags.Instance))
                {
                    names.Add($"ClusterView:{nested.Name}");
                }
            }
            else
            {
                names.Add(property.Name);
            }
        }

        return names;
    }

    [Theory]
    [MemberData(nameof(OptionNames))]
    public void Configuration_doc_has_a_row_for_every_option(string option)
    {
        var doc = Read("configuration.md");

        Assert.Contains($"| `{option}` |", doc, StringComparison.Ordinal);
    }

    public static TheoryData<string> Reasons() => [.. Enum.GetNames<KubernetesTokenFailureReason>()];

    [Theory]
    [MemberData(nameof(Reasons))]
    public void Troubleshooting_doc_explains_every_refusal_reason(string reason)
    {
        var doc = Read("troubleshooting.md");

        Assert.Contains($"`{reason}`", doc, StringComparison.Ordinal);
    }

    private static string Read(string name)
    {
        var path = RepositoryRoot.Path is { } root ? Path.Combine(root, "docs", name) : null;
        return path is not null && File.Exists(path)
            ? File.ReadAllText(path)
            : throw new FileNotFoundException($"docs/{name} was not found above {AppContext.BaseDirectory}.");
    }
}
