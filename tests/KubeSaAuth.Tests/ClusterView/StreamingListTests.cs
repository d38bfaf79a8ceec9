// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.ClusterView;

/// <summary>
/// Streaming lists (KEP-3157, <c>sendInitialEvents=true</c>): used where the server serves them, with the state as
/// ADDED events ended by the <c>k8s.io/initial-events-end</c> bookmark, and the same stream going on as the watch; a
/// server that refuses them (422) gets paged LISTs and is never asked again.
/// </summary>
public sealed class StreamingListTests
{
    [Fact]
    public async Task Where_the_server_serves_streaming_lists_the_view_syncs_without_a_LIST_and_keeps_watching_on_the_stream()
    {
        await using var host = await ClusterViewHost.StartAsync(s =>
        {
            s.StreamingLists = true;
            ClusterViewHost.SeedShop(s, podLabels: new Dictionary<string, string> { ["app"] = "checkout" });
        });
        await host.View.Synced;
        var pods = host.View.Reflectors.Single(r => r.Resource == "pods");

        using var admitted = await host.GetAsync("/checkout", host.Token());
        host.ApiServer.AddPod("shop", "after-sync");
        await ClusterViewHost.EventuallyAsync(() => host.View.Pods.TryGet("shop", "after-sync", out _), "the stream delivered a change after the initial events");

        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        Assert.Equal(0, host.ApiServer.GetRequestCount("list", KubernetesTestResource.Pods));
        Assert.Equal(3, host.ApiServer.StreamingListRequests);   // namespaces, pods, serviceaccounts
        Assert.Equal(1, host.ApiServer.GetRequestCount("watch", KubernetesTestResource.Pods));
        Assert.Equal(1, pods.StreamedLists);
        Assert.False(pods.StreamingRefused);
        Assert.All(host.ApiServer.AcceptHeaders, a => Assert.Contains("as=PartialObjectMetadata", a, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_closed_stream_resumes_as_a_watch_from_the_last_resourceVersion_without_listing_again()
    {
        await using var host = await ClusterViewHost.StartAsync(s =>
        {
            s.StreamingLists = true;
            ClusterViewHost.SeedShop(s);
        });
        await host.View.Synced;
        var pods = host.View.Reflectors.Single(r => r.Resource == "pods");
        await ClusterViewHost.EventuallyAsync(() => pods.IsWatching, "the pods stream is past its initial events");

        host.ApiServer.CloseWatches();
        host.ApiServer.AddPod("shop", "after-close");
        await ClusterViewHost.EventuallyAsync(() => host.View.Pods.TryGet("shop", "after-close", out _), "the resumed watch saw the pod");

        Assert.Equal(3, host.ApiServer.StreamingListRequests);
        Assert.Equal(0, host.ApiServer.GetRequestCount("list", KubernetesTestResource.Pods));
        Assert.True(host.ApiServer.GetRequestCount("watch", KubernetesTestResource.Pods) >= 2);
    }

    [Theory]
    [InlineData(KubernetesTestExpiry.HttpStatus)]
    [InlineData(KubernetesTestExpiry.ErrorEvent)]
    public async Task After_410_the_view_streams_the_state_again_and_drops_what_is_gone(KubernetesTestExpiry form)
    {
        await using var host = await ClusterViewHost.StartAsync(s =>
        {
            s.StreamingLists = true;
            ClusterViewHost.SeedShop(s);
        });
        await host.View.Synced;
        var pods = host.View.Reflectors.Single(r => r.Resource == "pods");
        await ClusterViewHost.EventuallyAsync(() => host.ApiServer.OpenWatches >= 3, "the streams are open");

        // Changes the open watch will never deliver: only a new list shows them (the deletion included).
        host.ApiServer.PauseWatchEvents = true;
        host.ApiServer.AddPod("shop", "missed");
        host.ApiServer.Delete(KubernetesTestResource.Pods, "shop", "checkout-1");
        host.ApiServer.ExpireResourceVersions(form);
        if (form == KubernetesTestExpiry.HttpStatus)
        {
            // An HTTP 410 answers the next watch: end the open one so that it resumes.
            host.ApiServer.CloseWatches();
        }

        await ClusterViewHost.EventuallyAsync(() => host.View.Pods.TryGet("shop", "missed", out _) && !host.View.Pods.TryGet("shop", "checkout-1", out _), "the view listed again");

        Assert.Equal(2, pods.StreamedLists);
        Assert.Equal(0, host.ApiServer.GetRequestCount("list", KubernetesTestResource.Pods));
    }

    [Fact]
    public async Task A_server_that_refuses_streaming_lists_with_422_gets_paged_LISTs_and_is_never_asked_again()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s, podLabels: new Dictionary<string, string> { ["app"] = "checkout" }));
        await host.View.Synced;
        var pods = host.View.Reflectors.Single(r => r.Resource == "pods");
        await ClusterViewHost.EventuallyAsync(() => host.ApiServer.OpenWatches >= 3, "the watches are open");
        using var admitted = await host.GetAsync("/checkout", host.Token());

        // A relist after 410 uses a paged LIST again, without asking for a stream.
        host.ApiServer.PauseWatchEvents = true;
        host.ApiServer.AddPod("shop", "missed");
        host.ApiServer.ExpireResourceVersions(KubernetesTestExpiry.ErrorEvent);
        await ClusterViewHost.EventuallyAsync(() => host.View.Pods.TryGet("shop", "missed", out _), "the view listed again");

        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        Assert.True(pods.StreamingRefused);
        Assert.Equal(3, host.ApiServer.StreamingListRequests);   // one refused ask per resource, never repeated
        Assert.Equal(2, host.ApiServer.GetRequestCount("list", KubernetesTestResource.Pods));
        Assert.Contains(host.Logs.GetSnapshot(), r => r.Id.Name == "ClusterViewStreamingListsRefused" && r.Message.Contains("WatchList feature gate", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_StreamingLists_off_no_stream_is_asked()
    {
        await using var host = await ClusterViewHost.StartAsync(
            s =>
            {
                s.StreamingLists = true;
                ClusterViewHost.SeedShop(s);
            },
            o => o.ClusterView.StreamingLists = false);
        await host.View.Synced;

        Assert.Equal(0, host.ApiServer.StreamingListRequests);
        Assert.Equal(1, host.ApiServer.GetRequestCount("list", KubernetesTestResource.Pods));
    }

    [Fact]
    public async Task A_streaming_list_refused_by_RBAC_names_the_refused_verb()
    {
        await using var host = await ClusterViewHost.StartAsync(s =>
        {
            s.StreamingLists = true;
            ClusterViewHost.SeedShop(s);
            s.Forbid("list", KubernetesTestResource.Pods);
        });
        var pods = host.View.Reflectors.Single(r => r.Resource == "pods");
        await pods.FirstAttempt;

        Assert.Equal("list pods", pods.Forbidden);
        Assert.False(pods.StreamingRefused);
    }
}
