// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Immutable;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace KubeSaAuth.Tests.Docs;

/// <summary>
/// Every fenced <c>```csharp</c> block of README.md and docs/*.md compiles, with Roslyn, against the built
/// library, as a user would compile it. The rule, for whoever writes a snippet:
/// <list type="bullet">
/// <item>In scope without being shown: the implicit global usings of the project the code lives in — the
/// Web SDK's (<c>dotnet new web</c>: System, System.Linq, System.Net.Http, Microsoft.AspNetCore.Builder,
/// Microsoft.AspNetCore.Http, Microsoft.Extensions.DependencyInjection, ...) for application code, and the
/// plain SDK's plus <c>Xunit</c> (<c>dotnet new xunit</c>) for test code. Every other namespace the snippet
/// needs (<c>KubeSaAuth</c>, <c>KubeSaAuth.Testing</c>, <c>Microsoft.AspNetCore.Authorization</c>,
/// <c>Microsoft.AspNetCore.Mvc.Testing</c>, ...) is a <c>using</c> line at the top of the snippet.</item>
/// <item>By default a snippet is a piece of <b>Program.cs</b>: its <c>using</c>s, then top-level statements,
/// then any type declarations (a controller). <c>builder</c> (<c>WebApplication.CreateBuilder(args)</c>)
/// and <c>app</c> (<c>builder.Build()</c>) are declared before it, unless the snippet declares
/// <c>var builder</c> itself: then it is the whole Program.cs from its first line (and declares <c>app</c> if it uses it).</item>
/// <item>An HTML comment on the line before the fence (invisible when rendered) says otherwise:
/// <c>&lt;!-- snippet: test-body --&gt;</c> — statements inside an <c>async</c> xunit test method;
/// <c>&lt;!-- snippet: test-body; given: KubernetesTestIssuer issuer, string podUid --&gt;</c> — the same, with
/// the variables it takes as given (the method's parameters); <c>&lt;!-- snippet: file path/in/repo.cs --&gt;</c>
/// — a whole file, which must also be identical to the regions of that repository file between
/// <c>// &lt;doc&gt;</c> and <c>// &lt;/doc&gt;</c> lines (joined by a blank line), so the doc and the test
/// that runs it are one source.</item>
/// <item>Pseudo-code (<c>...</c> as an expression) does not compile: write a real lambda instead.</item>
/// </list>
/// </summary>
public sealed partial class DocSnippetTests
{
    private static readonly string[] WebUsings =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Net.Http.Json",
        "System.Threading", "System.Threading.Tasks", "Microsoft.AspNetCore.Builder", "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Http", "Microsoft.AspNetCore.Routing", "Microsoft.Extensions.Configuration",
        "Microsoft.Extensions.DependencyInjection", "Microsoft.Extensions.Hosting", "Microsoft.Extensions.Logging",
    ];

    private static readonly string[] TestUsings =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading",
        "System.Threading.Tasks", "Xunit",
    ];

    // The repository's own applications and test assemblies: each has a Program (or is this project), so
    // only the libraries a user references are offered, plus the sample API as the Program tests start.
    private static readonly HashSet<string> ExcludedAssemblies = new(StringComparer.OrdinalIgnoreCase)
    {
        "KubeSaAuth.Tests", "KubeSaAuth.Demo", "kubesa", "KubeSaAuth.Sample.Client", "KubeSaAuth.Benchmarks", "testhost",
    };

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(LoadReferences);

    public static TheoryData<string> Snippets()
    {
        var data = new TheoryData<string>();
        foreach (var snippet in DocSnippet.All())
        {
            data.Add(snippet.Id);
        }

        return data;
    }

    [Fact]
    public void Finds_the_csharp_blocks_of_the_readme_and_the_docs()
    {
        var snippets = DocSnippet.All();

        Assert.Contains(snippets, s => s.File == "README.md");
        Assert.Contains(snippets, s => s.File == "docs/getting-started.md");
        Assert.Contains(snippets, s => s.Kind == SnippetKind.File);
        Assert.Contains(snippets, s => s.Kind == SnippetKind.TestBody);
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public void Snippet_compiles_as_shown(string id)
    {
        var snippet = DocSnippet.All().Single(s => s.Id == id);

        var errors = Compile(snippet);

        Assert.True(errors.Count == 0, $"{id} does not compile:\n{string.Join("\n", errors)}\n--- compiled as ---\n{snippet.ToSource()}");
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public void A_file_snippet_is_the_same_code_as_its_file_in_the_repository(string id)
    {
        var snippet = DocSnippet.All().Single(s => s.Id == id);
        if (snippet.Kind != SnippetKind.File)
        {
            return;
        }

        var path = Path.Combine(RepositoryRoot.Path!, snippet.Argument!);
        Assert.True(File.Exists(path), $"{id} names {snippet.Argument}, which does not exist.");
        var regions = DocRegions(File.ReadAllText(path));
        Assert.True(regions.Count > 0, $"{snippet.Argument} has no '// <doc>' ... '// </doc>' region.");

        Assert.Equal(string.Join("\n\n", regions), snippet.Code);
    }

    [Fact]
    public void A_snippet_missing_a_using_fails_to_compile()
    {
        // The check itself: the policy extension lives in Microsoft.AspNetCore.Authorization, which no SDK
        // imports implicitly, so this snippet must be refused — and is accepted once it shows the using.
        const string Body = "builder.Services.AddAuthorization(o => o.AddPolicy(\"p\", p => p.RequireKubernetesNamespace(\"billing\")));";
        var without = new DocSnippet("test.md", 1, SnippetKind.Program, null, Body);
        var with = new DocSnippet("test.md", 1, SnippetKind.Program, null, "using Microsoft.AspNetCore.Authorization;\n\n" + Body);

        Assert.Contains(Compile(without), e => e.Contains("CS1061", StringComparison.Ordinal));
        Assert.Empty(Compile(with));
    }

    [Fact]
    public void Pseudo_code_fails_to_compile()
    {
        var snippet = new DocSnippet("test.md", 1, SnippetKind.Program, null, "app.MapGet(\"/reports\", ...).RequireAuthorization(\"namespace:billing\");");

        Assert.NotEmpty(Compile(snippet));
    }

    private static List<string> Compile(DocSnippet snippet)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var implicitUsings = snippet.Kind == SnippetKind.TestBody || snippet.File.StartsWith("tests/", StringComparison.Ordinal) || snippet.Kind == SnippetKind.File
            ? TestUsings
            : WebUsings;
        var globals = CSharpSyntaxTree.ParseText(string.Concat(implicitUsings.Select(u => $"global using {u};\n")), parse, "GlobalUsings.g.cs");
        var tree = CSharpSyntaxTree.ParseText(snippet.ToSource(), parse, snippet.File, Encoding.UTF8);
        var hasStatements = tree.GetRoot().DescendantNodes().OfType<Microsoft.CodeAnalysis.CSharp.Syntax.GlobalStatementSyntax>().Any();
        var options = new CSharpCompilationOptions(hasStatements ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable);
        var references = snippet.Kind == SnippetKind.Program
            ? References.Value.Where(r => !IsSampleApi(r)).ToArray()
            : [.. References.Value];
        var compilation = CSharpCompilation.Create($"Snippet_{Guid.NewGuid():N}", [globals, tree], references, options);

        using var output = new MemoryStream();
        var result = compilation.Emit(output);
        return [.. result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString())];
    }

    private static bool IsSampleApi(MetadataReference reference) =>
        reference is PortableExecutableReference { FilePath: { } path } && Path.GetFileNameWithoutExtension(path) == "KubeSaAuth.Sample.Api";

    /// <summary>The trusted platform assemblies (the framework and every package this test project resolves) and the loaded KubeSaAuth assemblies.</summary>
    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        var paths = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var tpa = (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        var loaded = new[] { typeof(KubernetesServiceAccountOptions).Assembly, typeof(Testing.KubernetesTestIssuer).Assembly, typeof(Program).Assembly }
            .Select(a => a.Location);
        foreach (var path in tpa.Concat(loaded))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            if (path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && !ExcludedAssemblies.Contains(name) && IsManaged(path))
            {
                paths.TryAdd(name, path);
            }
        }

        return [.. paths.Values.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))];
    }

    private static bool IsManaged(string path)
    {
        try
        {
            AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }

    private static List<string> DocRegions(string text)
    {
        var regions = new List<string>();
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim() != "// <doc>")
            {
                continue;
            }

            var start = i + 1;
            var end = start;
            while (end < lines.Length && lines[end].Trim() != "// </doc>")
            {
                end++;
            }

            var region = lines[start..end];
            var indent = region.Where(l => l.Trim().Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
            regions.Add(string.Join("\n", region.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart())).Trim('\n'));
            i = end;
        }

        return regions;
    }

    [GeneratedRegex(@"^\s*using\s+(static\s+)?[A-Za-z_][\w.]*(\s*=\s*[\w.<>]+)?\s*;\s*(//.*)?$")]
    internal static partial Regex UsingDirective();

    [GeneratedRegex(@"^<!--\s*snippet:\s*(?<kind>[\w-]+)(\s+(?<arg>[^;]+?))?(\s*;\s*given:\s*(?<given>.+?))?\s*-->$")]
    internal static partial Regex Marker();
}

/// <summary>How a snippet is compiled (see <see cref="DocSnippetTests"/>).</summary>
internal enum SnippetKind
{
    Program,
    TestBody,
    File,
}

/// <summary>One fenced <c>```csharp</c> block of a Markdown file, with what its marker says.</summary>
internal sealed record DocSnippet(string File, int Line, SnippetKind Kind, string? Argument, string Code, string? Given = null)
{
    public string Id => $"{File}:{Line}";

    public static IReadOnlyList<DocSnippet> All()
    {
        var root = RepositoryRoot.Path ?? throw new InvalidOperationException("The test binaries do not sit below the repository.");
        var files = new[] { "README.md" }.Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal).Select(f => "docs/" + Path.GetFileName(f)));
        var snippets = new List<DocSnippet>();
        foreach (var file in files)
        {
            var lines = System.IO.File.ReadAllText(Path.Combine(root, file)).Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                var fence = lines[i].TrimStart();
                if (!fence.StartsWith("```csharp", StringComparison.Ordinal) && !fence.StartsWith("```cs", StringComparison.Ordinal) && !fence.StartsWith("```c#", StringComparison.Ordinal))
                {
                    continue;
                }

                var end = i + 1;
                while (end < lines.Length && !lines[end].TrimStart().StartsWith("```", StringComparison.Ordinal))
                {
                    end++;
                }

                var kind = SnippetKind.Program;
                string? argument = null;
                string? given = null;
                var marker = i > 0 ? DocSnippetTests.Marker().Match(lines[i - 1].Trim()) : Match.Empty;
                if (marker.Success)
                {
                    kind = marker.Groups["kind"].Value switch
                    {
                        "program" => SnippetKind.Program,
                        "test-body" => SnippetKind.TestBody,
                        "file" => SnippetKind.File,
                        var other => throw new InvalidOperationException($"{file}:{i}: unknown snippet kind '{other}' (program, test-body, file)."),
                    };
                    argument = marker.Groups["arg"].Success ? marker.Groups["arg"].Value.Trim() : null;
                    given = marker.Groups["given"].Success ? marker.Groups["given"].Value.Trim() : null;
                }

                snippets.Add(new DocSnippet(file, i + 2, kind, argument, string.Join("\n", lines[(i + 1)..end]), given));
                i = end;
            }
        }

        return snippets;
    }

    /// <summary>The C# file the snippet is compiled as; <c>#line</c> maps errors back to the Markdown.</summary>
    public string ToSource()
    {
        var lines = Code.Split('\n');
        var usingCount = 0;
        while (usingCount < lines.Length && (DocSnippetTests.UsingDirective().IsMatch(lines[usingCount]) || lines[usingCount].Trim().Length == 0 || lines[usingCount].TrimStart().StartsWith("//", StringComparison.Ordinal)))
        {
            usingCount++;
        }

        var usings = string.Join("\n", lines[..usingCount]);
        var body = string.Join("\n", lines[usingCount..]);
        var source = new StringBuilder();
        source.Append("#line ").Append(Line).Append(" \"").Append(File).Append("\"\n").Append(usings).Append('\n');
        switch (Kind)
        {
            case SnippetKind.File:
                source.Append("#line ").Append(Line + usingCount).Append(" \"").Append(File).Append("\"\n").Append(body).Append('\n');
                break;
            case SnippetKind.TestBody:
                source.Append("#line hidden\npublic sealed class DocSnippet\n{\n    [Fact]\n    public async Task Run(").Append(Given ?? string.Empty).Append(")\n    {\n        await Task.CompletedTask;\n");
                source.Append("#line ").Append(Line + usingCount).Append(" \"").Append(File).Append("\"\n").Append(body).Append('\n');
                source.Append("#line hidden\n    }\n}\n");
                break;
            default:
                // A snippet that builds its own WebApplication is Program.cs from its first line: no prelude.
                source.Append("#line hidden\n");
                if (!Regex.IsMatch(body, @"\bvar\s+builder\s*="))
                {
                    source.Append("var builder = WebApplication.CreateBuilder(args);\n");
                    if (!Regex.IsMatch(body, @"\bvar\s+app\s*="))
                    {
                        source.Append("var app = builder.Build();\n");
                    }
                }

                source.Append("#line ").Append(Line + usingCount).Append(" \"").Append(File).Append("\"\n").Append(body).Append('\n');
                break;
        }

        return source.ToString();
    }
}
