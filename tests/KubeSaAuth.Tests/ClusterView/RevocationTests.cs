// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.ClusterView;

/// <summary>Revocation at watch speed: a bound token whose Pod or ServiceAccount is gone (or has another uid) is refused.</summary>
public sealed class RevocationTests
{
    [Fact]
    public async Task A_deleted_pods_token_gets_401_although_it_is_cached()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        var token = host.Token();
        for (var i = 0; i < 3; i++)
        {
            using var ok = await host.GetAsync("/any", token);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        Assert.Equal(1, host.Runtime.Cache!.Count);

        host.ApiServer.Delete(KubernetesTestResource.Pods, "shop", "checkout-1");
        await ClusterViewHost.EventuallyAsync(() => !host.View.Pods.TryGet("shop", "checkout-1", out _), "the view saw the deletion");
        var gets = host.ApiServer.GetRequestCount("get", KubernetesTestResource.Pods);
        using var refused = await host.GetAsync("/any", token);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("the token's pod 'checkout-1' no longer exists", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, host.Runtime.Cache!.Count);
        Assert.Equal(gets, host.ApiServer.GetRequestCount("get", KubernetesTestResource.Pods));
    }

    [Fact]
    public async Task A_pod_recreated_with_a_new_uid_does_not_revive_the_old_token()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        var token = host.Token();
        using (var ok = await host.GetAsync("/any", token))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        var recreated = host.ApiServer.Recreate(KubernetesTestResource.Pods, "shop", "checkout-1");
        await ClusterViewHost.EventuallyAsync(() => host.View.Pods.TryGet("shop", "checkout-1", out var p) && p!.Uid == recreated.Uid, "the view saw the new pod");
        using var refused = await host.GetAsync("/any", token);
        using var fresh = await host.GetAsync("/any", host.Token());

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("the token's pod 'checkout-1' no longer exists", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
    }

    [Fact]
    public async Task A_deleted_service_accounts_token_gets_401()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        var token = host.Token();
        using (var ok = await host.GetAsync("/any", token))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        host.ApiServer.Delete(KubernetesTestResource.ServiceAccounts, "shop", "checkout");
        await ClusterViewHost.EventuallyAsync(() => !host.View.ServiceAccounts.TryGet("shop", "checkout", out _), "the view saw the deletion");
        using var refused = await host.GetAsync("/any", token);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("the token's service account 'checkout' no longer exists", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_service_account_recreated_with_a_new_uid_does_not_revive_the_old_token()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        var token = host.Token();
        using (var ok = await host.GetAsync("/any", token))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        var recreated = host.ApiServer.Recreate(KubernetesTestResource.ServiceAccounts, "shop", "checkout");
        await ClusterViewHost.EventuallyAsync(() => host.View.ServiceAccounts.TryGet("shop", "checkout", out var sa) && sa!.Uid == recreated.Uid, "the view saw the new service account");
        using var refused = await host.GetAsync("/any", token);
        using var fresh = await host.GetAsync("/any", host.Token());

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("the token's service account 'checkout' no longer exists (a service account of that name now has another uid)", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
    }

    [Fact]
    public async Task A_pod_whose_added_event_lags_is_looked_up_once_and_admitted()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        host.ApiServer.PauseWatchEvents = true;
        host.ApiServer.AddPod("shop", "checkout-2");
        var token = host.Token(pod: "checkout-2");

        using var first = await host.GetAsync("/any", token);
        using var second = await host.GetAsync("/any", token);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(1, host.ApiServer.GetRequestCount("get", KubernetesTestResource.Pods));
        Assert.False(host.View.Pods.TryGet("shop", "checkout-2", out _));
    }

    [Fact]
    public async Task A_pod_that_never_existed_gets_401_after_one_lookup()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        var token = host.Token(pod: "ghost-1", podUid: Guid.NewGuid().ToString());

        using var refused = await host.GetAsync("/any", token);
        using var again = await host.GetAsync("/any", token);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("the token's pod 'ghost-1' no longer exists", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, again.StatusCode);
        Assert.Equal(1, host.ApiServer.GetRequestCount("get", KubernetesTestResource.Pods));
    }

    [Fact]
    public async Task Known_callers_are_decided_from_memory_without_a_call_per_request()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        var before = host.ApiServer.RequestCount;

        for (var i = 0; i < 5; i++)
        {
            using var ok = await host.GetAsync("/any", host.Token());
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        Assert.Equal(0, host.ApiServer.GetRequestCount("get", KubernetesTestResource.Pods));
        Assert.Equal(0, host.ApiServer.GetRequestCount("get", KubernetesTestResource.ServiceAccounts));
        Assert.True(host.ApiServer.RequestCount - before <= host.ApiServer.GetRequestCount("watch", KubernetesTestResource.Pods) + host.ApiServer.GetRequestCount("watch", KubernetesTestResource.ServiceAccounts) + host.ApiServer.GetRequestCount("watch", KubernetesTestResource.Namespaces));
    }

    [Fact]
    public async Task During_an_outage_known_callers_are_still_admitted_and_health_says_disconnected()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        var token = host.Token();

        using (host.ApiServer.SimulateOutage())
        {
            await ClusterViewHost.EventuallyAsync(() => host.View.Reflectors.Any(r => r.Error is not null), "the view noticed the outage");
            using var ok = await host.GetAsync("/any", token);
            var health = await host.HealthAsync();

            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded, health.Status);
            Assert.Contains("disconnected", health.Entries.Values.Single().Description, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task During_an_outage_a_pod_the_view_does_not_know_yet_is_not_refused_for_want_of_an_answer()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        host.ApiServer.PauseWatchEvents = true;
        host.ApiServer.AddPod("shop", "checkout-2");
        var token = host.Token(pod: "checkout-2");

        using (host.ApiServer.SimulateOutage())
        {
            using var response = await host.GetAsync("/any", token);

            // The GET was tried and failed (503): no evidence that the pod is gone, so no refusal.
            Assert.Equal(1, host.ApiServer.GetRequestCount("get", KubernetesTestResource.Pods));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task A_revocation_during_an_outage_is_seen_when_the_view_reconnects_without_a_relist()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        var token = host.Token();
        var lists = host.ApiServer.GetRequestCount("list", KubernetesTestResource.Pods);

        using (host.ApiServer.SimulateOutage())
        {
            await ClusterViewHost.EventuallyAsync(() => host.View.Reflectors.Any(r => r.Error is not null), "the view noticed the outage");
            host.ApiServer.Delete(KubernetesTestResource.Pods, "shop", "checkout-1");
        }

        await ClusterViewHost.EventuallyAsync(() => !host.View.Pods.TryGet("shop", "checkout-1", out _), "the view caught up");
        using var refused = await host.GetAsync("/any", token);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(lists, host.ApiServer.GetRequestCount("list", KubernetesTestResource.Pods));
    }

    [Fact]
    public async Task Tokens_are_not_checked_when_revocation_is_off()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s), o => o.ClusterView.Revocation = false);

        using var response = await host.GetAsync("/any", host.Token(pod: "ghost-1", podUid: Guid.NewGuid().ToString()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, host.ApiServer.GetRequestCount("get", KubernetesTestResource.Pods));
    }
}
