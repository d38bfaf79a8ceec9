// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.Tokens;

namespace KubeSaAuth.Tests.Tokens;

/// <summary>
/// Text from an unverified token (issuer, namespace, service account, kid, audience) reaches error
/// descriptions and log fields only shortened and with control characters replaced: a token can neither
/// forge log lines nor fill them with kilobytes.
/// </summary>
public sealed class AttackerTextTests
{
    private const int MaxField = 600;

    private static readonly string Hostile = new string('a', 5 * 1024) + "\r\nINJECTED\u2028x";

    private readonly KubernetesTestIssuer _issuer = new();

    public static TheoryData<string> Places => ["issuer", "namespace", "service account", "kid", "audience", "legacy namespace"];

    [Theory]
    [MemberData(nameof(Places))]
    public async Task Token_text_reaches_descriptions_and_logs_short_and_on_one_line(string place)
    {
        await using var host = await HardeningHost.StartAsync(_issuer, o => o.AcceptLegacyTokens = false);
        var token = Build(place);
        host.Logs.Clear();

        // Twice: the second unknown kid within RefreshInterval is logged as throttled.
        for (var i = 0; i < 2; i++)
        {
            using var response = await host.GetAsync("/", token);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        var records = host.Logs.GetSnapshot();
        var refused = Assert.Single(records.Where(r => r.Id.Name == "TokenRefused").Take(1));
        var description = refused.GetStructuredStateValue("Description")!;
        Assert.True(description.Length < 300, description);
        Assert.DoesNotContain('\n', description);
        if (place == "kid")
        {
            Assert.Contains(records, r => r.Id.Name == "UnknownKeyIdRefreshThrottled");
        }

        foreach (var record in records)
        {
            // (ASP.NET Core's own messages may span lines; the token's text must not start one.)
            Assert.False(record.Message.Contains("\nINJECTED", StringComparison.Ordinal) || record.Message.Contains('\r', StringComparison.Ordinal) || record.Message.Contains('\u2028', StringComparison.Ordinal),
                $"{record.Id.Name}: {Cut(record.Message)}");
            Assert.True(record.Message.Length < 2 * MaxField, $"{record.Id.Name} is {record.Message.Length} characters: {Cut(record.Message)}");
            foreach (var (key, value) in record.StructuredState ?? [])
            {
                Assert.True(value is null || value.Length <= MaxField, $"{record.Id.Name}.{key} is {value?.Length} characters");
            }
        }
    }

    [Theory]
    [InlineData("abc", 64, "abc")]
    [InlineData("a\r\nb", 64, "a??b")]
    [InlineData("a\u2028b\u0085c\u007f", 64, "a?b?c?")]
    [InlineData("abcdef", 3, "abc…")]
    [InlineData("a\nbcdef", 3, "a?b…")]
    [InlineData("ab\uD83D\uDE00", 3, "ab…")]
    public void Shorten_cuts_and_replaces_control_characters(string value, int max, string expected)
    {
        Assert.Equal(expected, KubernetesTokenValidator.Shorten(value, max));
    }

    private static string Cut(string value) => value.Length <= 200 ? value : value[..200];

    private string Build(string place) => place switch
    {
        "issuer" => _issuer.CreateToken("my-namespace", "caller").WithIssuer(Hostile).Build(),
        "namespace" => _issuer.CreateToken(Hostile, "caller").WithSubject("system:serviceaccount:other:caller").Build(),
        "service account" => _issuer.CreateToken("my-namespace", Hostile).WithSubject("system:serviceaccount:other:caller").Build(),
        "kid" => _issuer.CreateToken("my-namespace", "caller").WithKeyId(Hostile).Build(),
        "audience" => _issuer.CreateToken("my-namespace", "caller").WithAudience(Hostile).Build(),
        "legacy namespace" => _issuer.CreateToken(Hostile, "caller").Legacy().Build(),
        _ => throw new ArgumentOutOfRangeException(nameof(place)),
    };
}
