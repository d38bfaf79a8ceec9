// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using KubeSaAuth.Tests.Infrastructure;
using KubeSaAuth.Tests.Keys;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace KubeSaAuth.Tests.Tokens;

/// <summary>
/// Issue 3 §7: extended auto-mounted tokens live a year with <c>kubernetes.io.warnafter</c> marking their
/// intended expiry. Enforced by default (past warnafter + skew is expired), or only warned about.
/// </summary>
public sealed class WarnAfterTests
{
    private static readonly TimeSpan Skew = new KubernetesServiceAccountOptions().ClockSkew;

    [Fact]
    public async Task Token_past_warnafter_is_refused_as_expired_by_default()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        var token = api.Issuer.CreateToken().Extended(time.GetUtcNow() - Skew - TimeSpan.FromSeconds(1)).Build();

        var outcome = await host.SendAsync(token);

        Assert.Equal(HttpStatusCode.Unauthorized, outcome.Status);
        Assert.Equal(KubernetesTokenFailureReason.Expired, outcome.Reason);
        Assert.Contains("warnafter", outcome.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_within_skew_of_warnafter_is_accepted()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        var token = api.Issuer.CreateToken().Extended(time.GetUtcNow() - Skew).Build();

        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(token)).Status);
    }

    [Fact]
    public async Task Cached_token_is_refused_once_past_warnafter()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        var token = api.Issuer.CreateToken().Extended(time.GetUtcNow() + TimeSpan.FromMinutes(1)).Build();
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(token)).Status);
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(token)).Status);
        Assert.Equal(1, KeyRefreshTests.Runtime(host).Cache!.Count);

        time.Advance(TimeSpan.FromMinutes(1) + Skew + TimeSpan.FromSeconds(1));
        var outcome = await host.SendAsync(token);

        Assert.Equal(KubernetesTokenFailureReason.Expired, outcome.Reason);
    }

    [Fact]
    public async Task With_EnforceWarnAfter_off_a_token_past_warnafter_is_accepted_with_a_warning()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(
            time,
            o =>
            {
                api.Configure(o);
                o.EnforceWarnAfter = false;
            },
            services: s => s.AddLogging(b => b.AddFakeLogging()));
        var warnAfter = time.GetUtcNow() - TimeSpan.FromHours(1);
        var token = api.Issuer.CreateToken().Extended(warnAfter).Build();

        var outcome = await host.SendAsync(r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token), path: "/account");

        Assert.Equal(HttpStatusCode.OK, outcome.Status);
        var record = Assert.Single(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Name == "TokenPastWarnAfter");
        Assert.Equal(LogLevel.Warning, record.Level);
        var account = JsonNode.Parse(outcome.Body)!;
        Assert.Equal(warnAfter.ToUnixTimeSeconds(), DateTimeOffset.Parse(account["warnAfter"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeSeconds());
    }

    [Fact]
    public async Task Typed_identity_exposes_warnafter()
    {
        var time = KeyRefreshTests.NewClock();
        using var api = new FakeApiServer(time);
        await using var host = await KeysTestHost.StartAsync(time, api.Configure);
        var warnAfter = time.GetUtcNow() + TimeSpan.FromMinutes(30);
        var token = api.Issuer.CreateToken().Extended(warnAfter).Build();

        var outcome = await host.SendAsync(r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token), path: "/account");

        Assert.Equal(HttpStatusCode.OK, outcome.Status);
        var account = JsonNode.Parse(outcome.Body)!;
        Assert.Equal(warnAfter.ToUnixTimeSeconds(), DateTimeOffset.Parse(account["warnAfter"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeSeconds());
        Assert.True(DateTimeOffset.Parse(account["expiresAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture) > warnAfter.AddDays(300));
    }
}
