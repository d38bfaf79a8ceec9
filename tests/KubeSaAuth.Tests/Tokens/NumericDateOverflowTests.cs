// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.Tokens;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.Tests.Tokens;

/// <summary>
/// A time at the end of DateTimeOffset's range (9999-12-31T23:59:59Z) plus the clock skew overflowed before
/// any signature check: a 401 "Malformed" from the catch-all and an Error log with a stack per request.
/// </summary>
public sealed class NumericDateOverflowTests
{
    private const long EndOfDateTimeOffset = 253402300799;

    private readonly KubernetesTestIssuer _issuer = new();

    public static TheoryData<string, long> TimesAtTheEndOfTheRange => new()
    {
        { "exp", EndOfDateTimeOffset },
        { "exp", EndOfDateTimeOffset - 60 },
        { "exp", KubernetesTokenValidator.MaxNumericDate + 1 },
        { "kubernetes.io.warnafter", EndOfDateTimeOffset },
        { "kubernetes.io.warnafter", EndOfDateTimeOffset - 60 },
    };

    [Theory]
    [MemberData(nameof(TimesAtTheEndOfTheRange))]
    public async Task Refuses_a_time_too_close_to_the_end_of_the_calendar_as_malformed_without_an_error_log(string claim, long value)
    {
        await using var host = await HardeningHost.StartAsync(_issuer);
        var token = Build(claim, value, forged: true);

        using var response = await host.GetAsync("/", token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.True(challenge.Contains($"'{claim}' ({value}) is out of range", StringComparison.Ordinal), challenge);
        var records = host.Logs.GetSnapshot();
        Assert.DoesNotContain(records, r => r.Level >= LogLevel.Error || r.Exception is not null);
        Assert.Contains(records, r => r.Id.Name == "TokenRefused" && r.GetStructuredStateValue("Reason") == nameof(KubernetesTokenFailureReason.Malformed));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_genuine_token_with_a_warnafter_at_the_end_of_the_calendar_is_refused_not_thrown(bool enforceWarnAfter)
    {
        await using var host = await HardeningHost.StartAsync(_issuer, o => o.EnforceWarnAfter = enforceWarnAfter);

        using var response = await host.GetAsync("/", Build("kubernetes.io.warnafter", EndOfDateTimeOffset, forged: false));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.True(challenge.Contains("out of range", StringComparison.Ordinal), challenge);
        Assert.DoesNotContain(host.Logs.GetSnapshot(), r => r.Level >= LogLevel.Error);
    }

    [Fact]
    public async Task Accepts_a_token_that_expires_at_the_cap()
    {
        await using var host = await HardeningHost.StartAsync(_issuer);

        using var response = await host.GetAsync("/", Build("exp", KubernetesTokenValidator.MaxNumericDate, forged: false));

        Assert.True(response.StatusCode == HttpStatusCode.OK, response.Headers.WwwAuthenticate.ToString());
    }

    private string Build(string claim, long value, bool forged)
    {
        var builder = claim == "exp"
            ? _issuer.CreateToken("my-namespace", "caller").WithClaim("exp", value)
            : _issuer.CreateToken("my-namespace", "caller").Extended(DateTimeOffset.FromUnixTimeSeconds(value));
        return forged ? builder.SignedWithUnknownKey().Build() : builder.Build();
    }
}
