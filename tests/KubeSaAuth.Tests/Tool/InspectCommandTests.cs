// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Vectors;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.TokenReview;
using KubeSaAuth.Tool;

namespace KubeSaAuth.Tests.Tool;

/// <summary><c>kubesa inspect</c> on the repository's vectors: the verdict and the rule that decides it.</summary>
public sealed class InspectCommandTests : IDisposable
{
    // Inside the lifetime of the derived vectors (iat 1700000000, exp 1700003600, warnafter 1700003607).
    private const string DuringLifetime = "1700000100";
    private const string ClusterIssuer = "https://kubernetes.default.svc.cluster.local";

    private readonly string _jwksFile = Path.Combine(Path.GetTempPath(), $"kubesa-jwks-{Guid.NewGuid():N}.json");

    public InspectCommandTests()
    {
        File.WriteAllText(_jwksFile, ToolVectors.Jwks);
    }

    public void Dispose() => File.Delete(_jwksFile);

    public static TheoryData<string, string> AcceptedVectors => new()
    {
        { "bound_node_rs256", "vault" },
        { "bound_secret_rs256_multi_aud", "vault" },
        { "bound_sa_only_rs256", ClusterIssuer },
        { "bound_pod_rs256_extended", ClusterIssuer },
        { "bound_pod_es256", ClusterIssuer },
    };

    [Theory]
    [MemberData(nameof(AcceptedVectors))]
    public async Task Accepts_a_valid_vector_at_a_time_within_its_lifetime(string vector, string audience)
    {
        var (exit, output) = await RunAsync("inspect", ToolVectors.Token(vector), "--jwks", _jwksFile, "--issuer", ClusterIssuer, "--audience", audience, "--now", DuringLifetime);

        Assert.Equal(InspectCommand.Accepted, exit);
        Assert.Contains("Verdict: ACCEPTED", output, StringComparison.Ordinal);
        Assert.DoesNotContain("[FAIL]", output, StringComparison.Ordinal);
        Assert.Contains("[pass] signature", output, StringComparison.Ordinal);
    }

    public static TheoryData<string, string[], KubernetesTokenFailureReason, string> RefusedVectors => new()
    {
        { "bound_node_rs256", [], KubernetesTokenFailureReason.Expired, "lifetime" },
        { "bound_node_rs256", ["--now", DuringLifetime, "--audience", "my-api"], KubernetesTokenFailureReason.InvalidAudience, "audience" },
        { "bound_node_rs256", ["--now", DuringLifetime, "--issuer", "https://oidc.example.com"], KubernetesTokenFailureReason.InvalidIssuer, "issuer" },
        { "bound_pod_rs256_extended", ["--now", "1700010000"], KubernetesTokenFailureReason.Expired, "lifetime" },
        { "legacy_rs256", [], KubernetesTokenFailureReason.LegacyTokenRefused, "token kind" },
        { "neg_tampered_payload", ["--now", DuringLifetime], KubernetesTokenFailureReason.InvalidSignature, "signature" },
        { "neg_unknown_kid", ["--now", DuringLifetime], KubernetesTokenFailureReason.UnknownKey, "key id" },
        { "neg_alg_none", [], KubernetesTokenFailureReason.UnsupportedAlgorithm, "algorithm and header" },
        { "neg_hs256_confusion", [], KubernetesTokenFailureReason.UnsupportedAlgorithm, "algorithm and header" },
    };

    [Theory]
    [MemberData(nameof(RefusedVectors))]
    public async Task Refuses_a_vector_and_names_the_rule_and_reason(string vector, string[] extra, KubernetesTokenFailureReason reason, string rule)
    {
        var (exit, output) = await RunAsync(["inspect", ToolVectors.Token(vector), "--jwks", _jwksFile, .. extra]);

        Assert.Equal(InspectCommand.Refused, exit);
        Assert.Contains($"Verdict: REFUSED ({reason})", output, StringComparison.Ordinal);
        Assert.Contains($"[FAIL] {rule,-21} {reason}:", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Explains_the_rules_after_an_expiry_as_judged_within_the_lifetime()
    {
        var (_, output) = await RunAsync("inspect", ToolVectors.Token("bound_node_rs256"), "--jwks", _jwksFile, "--audience", "vault");

        Assert.Contains("[FAIL] lifetime", output, StringComparison.Ordinal);
        Assert.Contains("[pass] signature", output, StringComparison.Ordinal);
        Assert.Contains("note: the rules after 'lifetime' were judged at 2023-11-14 22:13:20Z", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Marks_the_claims_of_a_forged_payload_as_moot()
    {
        var (_, output) = await RunAsync("inspect", ToolVectors.Token("neg_tampered_payload"), "--jwks", _jwksFile, "--now", DuringLifetime);

        Assert.Contains("[FAIL] signature", output, StringComparison.Ordinal);
        Assert.Contains("[----] subject               moot: the signature does not verify", output, StringComparison.Ordinal);
        Assert.Contains("[pass] key id", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Accepts_a_legacy_vector_when_legacy_tokens_are_allowed()
    {
        var (exit, output) = await RunAsync("inspect", ToolVectors.Token("legacy_rs256"), "--jwks", _jwksFile, "--accept-legacy");

        Assert.Equal(InspectCommand.Accepted, exit);
        Assert.Contains("legacy (secret-based)", output, StringComparison.Ordinal);
        Assert.Contains("[skip] audience", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Marks_the_rules_after_an_unliftable_refusal_as_not_checked()
    {
        var (_, output) = await RunAsync("inspect", ToolVectors.Token("neg_hs256_confusion"), "--jwks", _jwksFile);

        Assert.Contains("[----] signature", output, StringComparison.Ordinal);
        Assert.Contains("[pass] size and shape", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Decodes_the_caller_without_printing_the_token()
    {
        var token = ToolVectors.Token("bound_pod_rs256_extended");

        var (_, output) = await RunAsync("inspect", token, "--jwks", _jwksFile, "--now", DuringLifetime);

        Assert.Contains("coredns-69cbfb9798-jv9gn", output, StringComparison.Ordinal);
        Assert.Contains("kube-system", output, StringComparison.Ordinal);
        Assert.DoesNotContain(token.Split('.')[2], output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reads_the_token_from_a_file_and_from_standard_input()
    {
        var tokenFile = Path.Combine(Path.GetTempPath(), $"kubesa-token-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(tokenFile, ToolVectors.Token("bound_node_rs256") + "\n");
        try
        {
            var (fromFile, _) = await RunAsync("inspect", "@" + tokenFile, "--jwks", _jwksFile, "--now", DuringLifetime);
            var (fromStdin, _) = await RunAsync(["inspect", "-", "--jwks", _jwksFile, "--now", DuringLifetime], input: "Bearer " + ToolVectors.Token("bound_node_rs256"));

            Assert.Equal(InspectCommand.Accepted, fromFile);
            Assert.Equal(InspectCommand.Accepted, fromStdin);
        }
        finally
        {
            File.Delete(tokenFile);
        }
    }

    [Fact]
    public async Task Fetches_discovery_and_keys_from_an_issuer_url()
    {
        await using var issuer = await KubernetesTestIssuer.StartAsync();
        var token = issuer.CreateToken("team-a", "worker").WithAudience("my-api").Build();

        var (exit, output) = await RunAsync("inspect", token, "--issuer", issuer.Issuer, "--metadata", issuer.MetadataAddress, "--allow-http", "--audience", "my-api");

        Assert.Equal(InspectCommand.Accepted, exit);
        Assert.Contains(issuer.ActiveKey.KeyId, output, StringComparison.Ordinal);
        Assert.Equal(1, issuer.JwksRequests);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Several_issuers_judge_the_token_against_the_one_it_names(bool commaList)
    {
        using var a = FakeApiServer.ForCluster();
        using var b = FakeApiServer.ForCluster();
        var token = b.Issuer.CreateToken("team-a", "worker").Build();
        string[] issuers = commaList ? ["--issuer", $"{a.Url},{b.Url}"] : ["--issuer", a.Url, "--issuer", b.Url];

        var (exit, output) = await RunAsync(["inspect", token, .. issuers, "--allow-http", "--audience", "my-api"], input: string.Empty);

        Assert.Equal(InspectCommand.Accepted, exit);
        Assert.Contains($"issuer           {b.Url} (--issuer 2 of 2, the one the token's iss names)", output, StringComparison.Ordinal);
        Assert.Equal(0, a.TotalRequests);
        Assert.Equal(1, b.JwksRequests);
    }

    [Fact]
    public async Task Several_issuers_refuse_a_token_naming_none_of_them_and_name_them_all()
    {
        using var a = FakeApiServer.ForCluster();
        using var b = FakeApiServer.ForCluster();
        var token = new KubernetesTestIssuer("https://stranger.example").CreateToken("team-a", "worker").Build();

        var (exit, output) = await RunAsync("inspect", token, "--issuer", a.Url, "--issuer", b.Url, "--allow-http", "--audience", "my-api");

        Assert.Equal(InspectCommand.Refused, exit);
        Assert.Contains("none of the 2 --issuer values is the token's iss", output, StringComparison.Ordinal);
        var verdict = output.Split('\n').Single(l => l.StartsWith("Verdict:", StringComparison.Ordinal));
        Assert.Contains("(InvalidIssuer)", verdict, StringComparison.Ordinal);
        Assert.Contains(a.Url, verdict, StringComparison.Ordinal);
        Assert.Contains(b.Url, verdict, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reports_keys_unavailable_with_the_fetch_error_when_the_issuer_is_down()
    {
        await using var issuer = await KubernetesTestIssuer.StartAsync();
        issuer.Fault = IssuerFault.ServiceUnavailable;
        var token = issuer.CreateToken("team-a", "worker").Build();

        var (exit, output) = await RunAsync("inspect", token, "--issuer", issuer.Issuer, "--metadata", issuer.MetadataAddress, "--allow-http");

        Assert.Equal(InspectCommand.Refused, exit);
        Assert.Contains("Verdict: REFUSED (KeysUnavailable)", output, StringComparison.Ordinal);
        Assert.Contains("key error", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keys_unavailable_verdict_names_the_failed_discovery_address_and_the_cause()
    {
        await using var issuer = await KubernetesTestIssuer.StartAsync();
        issuer.Fault = IssuerFault.ServiceUnavailable;
        var token = issuer.CreateToken("team-a", "worker").Build();

        var (_, output) = await RunAsync("inspect", token, "--issuer", issuer.Issuer, "--metadata", issuer.MetadataAddress, "--allow-http");

        var verdict = Line(output, "Verdict:");
        Assert.Contains($"discovery at {issuer.MetadataAddress} failed: the server answered 503", verdict, StringComparison.Ordinal);
        Assert.DoesNotContain("retry shortly", output, StringComparison.Ordinal);
        Assert.Contains($"{issuer.MetadataAddress} (discovery)", Line(output, "  keys"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keys_unavailable_verdict_names_an_unreachable_jwks_uri_and_suggests_jwks()
    {
        await using var issuer = await KubernetesTestIssuer.StartAsync();
        var unreachable = $"http://127.0.0.1:{ClosedPort()}/openid/v1/jwks";
        issuer.PublishedJwksUri = unreachable; // as a node IP the caller cannot reach
        var token = issuer.CreateToken("team-a", "worker").Build();

        var (exit, output) = await RunAsync("inspect", token, "--issuer", issuer.Issuer, "--metadata", issuer.MetadataAddress, "--allow-http");

        Assert.Equal(InspectCommand.Refused, exit);
        var verdict = Line(output, "Verdict:");
        Assert.Contains($"the JWKS at jwks_uri {unreachable}", verdict, StringComparison.Ordinal);
        Assert.Contains("connection refused", verdict, StringComparison.Ordinal);
        Assert.Contains("pass --jwks", verdict, StringComparison.Ordinal);
        Assert.DoesNotContain("retry shortly", output, StringComparison.Ordinal);
        var keys = Line(output, "  keys");
        Assert.Contains(unreachable, keys, StringComparison.Ordinal);
        Assert.False(keys.Contains($"{issuer.MetadataAddress} (discovery)", StringComparison.Ordinal), keys);
    }

    private static string Line(string output, string prefix) =>
        output.Split('\n').Single(l => l.StartsWith(prefix, StringComparison.Ordinal));

    private static int ClosedPort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    [Theory]
    [InlineData("")]
    [InlineData("inspect")]
    [InlineData("inspect a.b.c --bogus")]
    [InlineData("inspect a.b.c --now yesterday")]
    [InlineData("inspect a.b.c --audience")]
    [InlineData("frobnicate")]
    [InlineData("inspect @/nonexistent/token")]
    public async Task Answers_bad_usage_with_exit_code_2(string commandLine)
    {
        var (exit, _) = await RunAsync(commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries));

        Assert.Equal(InspectCommand.UsageError, exit);
    }

    [Theory]
    [InlineData("not-a-token")]
    [InlineData("a.b.c.d.e")]
    [InlineData("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")]
    [InlineData("....")]
    public async Task Refuses_hostile_input_without_crashing(string token)
    {
        var (exit, output) = await RunAsync("inspect", token, "--jwks", "/dev/null");

        Assert.Equal(InspectCommand.Refused, exit);
        Assert.Contains("Verdict: REFUSED", output, StringComparison.Ordinal);
    }

    private static Task<(int Exit, string Output)> RunAsync(params string[] args) => RunAsync(args, input: string.Empty);

    private static async Task<(int Exit, string Output)> RunAsync(string[] args, string input)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await InspectCommand.RunAsync(args, new StringReader(input), output, error, CancellationToken.None);
        return (exit, output.ToString() + error.ToString());
    }
}
