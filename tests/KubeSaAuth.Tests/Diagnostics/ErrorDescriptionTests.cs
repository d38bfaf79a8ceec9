// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.Tests.Keys;
using KubeSaAuth.TokenReview;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Settings;

namespace KubeSaAuth.Tests.Diagnostics;

/// <summary>
/// Issue 20 §6: <c>error_description</c> names what is wrong with the token and never this service's configuration
/// (accepted audiences and issuers, addresses, paths, limits, the clock skew); the <c>TokenRefused</c> log line
/// carries the same refusal with the configured values, the scheme and the cluster.
/// </summary>
public sealed class ErrorDescriptionTests
{
    private const string Audience = "secret-audience-7f3a";
    private const string SecondIssuer = "https://second-issuer.example/secret-9c1e";
    private const string ClusterName = "cluster-b4d2";
    private const int MaxTokenSize = 7777;
    private static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(47);

    /// <summary>Reasons that this table does not produce, and where their descriptions are covered.</summary>
    private static readonly Dictionary<KubernetesTokenFailureReason, string> CoveredElsewhere = new()
    {
        [KubernetesTokenFailureReason.TokenReviewRejected] = nameof(TokenReview_descriptions_name_no_configured_audience),
        [KubernetesTokenFailureReason.TokenReviewUnavailable] = nameof(TokenReview_descriptions_name_no_configured_audience),
        [KubernetesTokenFailureReason.RejectedByEvent] = "the application's own words (context.Fail)",
        [KubernetesTokenFailureReason.WeakKey] = "WeakKeyTests: the kid and the key's size, both the issuer's",
        [KubernetesTokenFailureReason.BoundObjectGone] = "ClusterView/RevocationTests: the token's own pod or service account, by name",
    };

    public static TheoryData<string, KubernetesTokenFailureReason> Refusals() => new()
    {
        { "not a JWT", KubernetesTokenFailureReason.Malformed },
        { "too large", KubernetesTokenFailureReason.TooLarge },
        { "Bearer without token", KubernetesTokenFailureReason.InvalidAuthorizationHeader },
        { "HS256", KubernetesTokenFailureReason.UnsupportedAlgorithm },
        { "jku", KubernetesTokenFailureReason.UnsupportedHeader },
        { "no kubernetes.io", KubernetesTokenFailureReason.NotServiceAccountToken },
        { "legacy", KubernetesTokenFailureReason.LegacyTokenRefused },
        { "other issuer", KubernetesTokenFailureReason.InvalidIssuer },
        { "other audience", KubernetesTokenFailureReason.InvalidAudience },
        { "no audience", KubernetesTokenFailureReason.InvalidAudience },
        { "no exp", KubernetesTokenFailureReason.MissingExpiration },
        { "expired", KubernetesTokenFailureReason.Expired },
        { "past warnafter", KubernetesTokenFailureReason.Expired },
        { "not yet valid", KubernetesTokenFailureReason.NotYetValid },
        { "no service account", KubernetesTokenFailureReason.MissingClaim },
        { "wrong sub", KubernetesTokenFailureReason.InvalidSubject },
        { "bad namespace", KubernetesTokenFailureReason.InvalidClaims },
        { "unknown kid", KubernetesTokenFailureReason.UnknownKey },
        { "tampered", KubernetesTokenFailureReason.InvalidSignature },
        { "keys down", KubernetesTokenFailureReason.KeysUnavailable },
    };

    [Fact]
    public void The_table_covers_every_failure_reason()
    {
        var tabled = Refusals().Select(row => (KubernetesTokenFailureReason)row[1]).ToHashSet();

        Assert.All(Enum.GetValues<KubernetesTokenFailureReason>(), reason =>
            Assert.True(tabled.Contains(reason) || CoveredElsewhere.ContainsKey(reason), $"{reason} has no row"));
    }

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Error_description_names_no_configured_value(string name, KubernetesTokenFailureReason reason)
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        if (name == "keys down")
        {
            api.Mode = ApiServerMode.Unavailable;
        }

        await using var host = await StartAsync(time, api);
        var outcome = await host.SendAsync(request => Shape(request, name, api.Issuer));

        Assert.Equal(HttpStatusCode.Unauthorized, outcome.Status);
        Assert.Equal(reason, outcome.Reason);
        var challenge = outcome.Challenge!;
        Assert.Contains("error_description=", challenge, StringComparison.Ordinal);
        foreach (var configured in ConfiguredValues(api))
        {
            Assert.False(challenge.Contains(configured, StringComparison.OrdinalIgnoreCase), $"{name}: '{configured}' in {challenge}");
        }
    }

    [Theory]
    [InlineData("other audience", "the token's audience 'vault' is not accepted here", "'" + Audience + "']")]
    [InlineData("other issuer", "the token's issuer 'https://other.example' is not accepted here", "the accepted issuers are [")]
    [InlineData("expired", "the token expired at", "ClockSkew is 47 s")]
    [InlineData("too large", "more than this service accepts (MaxTokenSize)", "MaxTokenSize is 7777")]
    public async Task The_log_line_names_the_configured_values_the_scheme_and_the_cluster(string name, string description, string detail)
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await StartAsync(time, api);

        var outcome = await host.SendAsync(request => Shape(request, name, api.Issuer));

        Assert.Contains(description, outcome.Challenge, StringComparison.Ordinal);
        var record = Assert.Single(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "TokenRefused");
        Assert.Equal(LogLevel.Information, record.Level);
        Assert.Contains(description, record.Message, StringComparison.Ordinal);
        Assert.True(record.Message.Contains(detail, StringComparison.Ordinal), record.Message);
        Assert.Contains(detail, record.GetStructuredStateValue("Detail"), StringComparison.Ordinal);
        Assert.Equal(KubernetesServiceAccountDefaults.AuthenticationScheme, record.GetStructuredStateValue("Scheme"));
        Assert.Equal(ClusterName, record.GetStructuredStateValue("Cluster"));
        Assert.Contains($"cluster {ClusterName}", record.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("audience error", "token audiences [\"vault\"] is invalid for the target audiences [\"" + Audience + "\"]")]
    [InlineData("none of ours", null)]
    [InlineData("down", null)]
    public async Task TokenReview_descriptions_name_no_configured_audience(string name, string? error)
    {
        using var server = WireMockServer.Start(new WireMockServerSettings { Urls = ["http://127.0.0.1:0"] });
        var status = name switch
        {
            "audience error" => new JsonObject { ["authenticated"] = false, ["error"] = error },
            _ => new JsonObject { ["authenticated"] = true, ["audiences"] = new JsonArray("vault"), ["user"] = new JsonObject { ["username"] = "system:serviceaccount:my-namespace:caller" } },
        };
        server.Given(Request.Create().UsingPost())
            .RespondWith(Response.Create().WithStatusCode(name == "down" ? 503 : 201).WithHeader("Content-Type", "application/json")
                .WithBody(new JsonObject { ["kind"] = "TokenReview", ["apiVersion"] = "authentication.k8s.io/v1", ["status"] = status }.ToJsonString()));
        var options = new KubernetesServiceAccountOptions();
        options.Audiences.Add(Audience);
        options.TokenReview.Enabled = true;
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var client = new HttpClient();
        using var reviewer = new TokenReviewer("test", new Uri(server.Url!), () => client, options, time, NullLogger.Instance, null);
        var caller = new KubernetesServiceAccount { Namespace = "my-namespace", Name = "caller", Issuer = "https://k8s.example", Cluster = "test", ExpiresAt = time.GetUtcNow().AddHours(1) };

        var failure = await reviewer.ReviewAsync("header.payload.signature", caller, forceFresh: false, CancellationToken.None);

        Assert.NotNull(failure);
        Assert.DoesNotContain(Audience, failure.Description, StringComparison.Ordinal);
        Assert.DoesNotContain(server.Url!, failure.Description, StringComparison.Ordinal);
        if (name != "down")
        {
            Assert.Contains(Audience, failure.LogDescription, StringComparison.Ordinal);
        }
    }

    private static IEnumerable<string> ConfiguredValues(FakeApiServer api)
    {
        yield return Audience;
        yield return api.Issuer.Issuer;
        yield return SecondIssuer;
        yield return api.Url;
        yield return new Uri(api.Url).Authority;
        yield return FakeApiServer.DiscoveryPath;
        yield return FakeApiServer.JwksPath;
        yield return MaxTokenSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
        yield return "47 s";
        yield return ClusterName;
    }

    private static Task<KeysTestHost> StartAsync(FakeTimeProvider time, FakeApiServer api) =>
        KeysTestHost.StartAsync(time, o =>
        {
            o.Issuer = api.Issuer.Issuer;
            o.AdditionalIssuers.Add(SecondIssuer);
            o.MetadataAddress = api.MetadataAddress;
            o.RequireHttpsMetadata = false;
            o.Audiences.Add(Audience);
            o.MaxTokenSize = MaxTokenSize;
            o.ClockSkew = ClockSkew;
            o.ClusterName = ClusterName;
        }, services: s => s.AddLogging(b => b.AddFakeLogging()));

    private static void Shape(HttpRequestMessage request, string name, KubernetesTestIssuer issuer)
    {
        if (name == "Bearer without token")
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer ");
            return;
        }

        var token = name switch
        {
            "not a JWT" => "not-a-jwt",
            "too large" => new string('a', MaxTokenSize + 1),
            "HS256" => Base64UrlEncoder.Encode("{\"alg\":\"HS256\",\"typ\":\"JWT\"}") + "." + issuer.CreateToken().WithAudience(Audience).Build().Split('.')[1] + ".c2lnbmF0dXJl",
            _ => Build(name, issuer.CreateToken().WithAudience(Audience), issuer.TimeProvider.GetUtcNow()),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    private static string Build(string name, KubernetesTokenBuilder token, DateTimeOffset now) => name switch
    {
        "jku" => token.WithHeader("jku", "https://attacker.example/jwks").Build(),
        "no kubernetes.io" => token.WithoutClaim("kubernetes.io").Build(),
        "legacy" => token.Legacy().Build(),
        "other issuer" => token.WithIssuer("https://other.example").Build(),
        "other audience" => token.WithAudience("vault").Build(),
        "no audience" => token.WithAudience().Build(),
        "no exp" => token.WithoutClaim("exp").Build(),
        "expired" => token.Expired().Build(),
        "past warnafter" => token.IssuedAt(now.AddHours(-2)).Extended(now.AddHours(-1)).Build(),
        "not yet valid" => token.NotYetValid().Build(),
        "no service account" => token.WithClaim("kubernetes.io", new JsonObject { ["namespace"] = "default" }).Build(),
        "wrong sub" => token.WithSubject("system:serviceaccount:other:someone").Build(),
        "bad namespace" => token.WithSubject("system:serviceaccount:Bad_NS:default").WithClaim("kubernetes.io", new JsonObject
        {
            ["namespace"] = "Bad_NS",
            ["serviceaccount"] = new JsonObject { ["name"] = "default", ["uid"] = Guid.NewGuid().ToString() },
        }).Build(),
        "unknown kid" => token.SignedWithUnknownKey().Build(),
        "tampered" => token.Tampered().Build(),
        "keys down" => token.Build(),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };
}
