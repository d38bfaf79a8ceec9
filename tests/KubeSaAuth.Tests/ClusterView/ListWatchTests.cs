// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.ClusterView;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.ClusterView;

/// <summary>List and watch done as client-go's reflector does, against the stand-in API server.</summary>
public sealed class ListWatchTests
{
    [Fact]
    public async Task Lists_in_pages_with_metadata_only_accept_headers()
    {
        await using var host = await ClusterViewHost.StartAsync(
            s =>
            {
                for (var i = 0; i < 25; i++)
                {
                    s.AddPod("shop", $"p-{i}");
                }
            },
            o => o.ClusterView.PageSize = 10);
        await host.View.Synced.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(25, host.View.Pods.Count);
        Assert.Equal(3, host.ApiServer.GetRequestCount("list", KubernetesTestResource.Pods));
        Assert.Contains(MetadataClient.ListAccept, host.ApiServer.AcceptHeaders);
        Assert.Contains(MetadataClient.ObjectAccept, host.ApiServer.AcceptHeaders);
        Assert.Equal(1, host.View.Reflectors.Single(r => r.Resource == "pods").Lists);
    }

    [Fact]
    public async Task An_expired_continue_token_starts_the_list_again()
    {
        await using var host = await ClusterViewHost.StartAsync(
            s =>
            {
                for (var i = 0; i < 25; i++)
                {
                    s.AddPod("shop", $"p-{i}");
                }

                s.ExpireNextContinue();
            },
            o =>
            {
                o.ClusterView.PageSize = 10;
                o.ClusterView.WatchNamespaces = false;
            });
        await host.View.Synced.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(25, host.View.Pods.Count);

        // Started over inside the same LIST, not failed and retried as a new one.
        Assert.Equal(1, host.View.Reflectors.Single(r => r.Resource == "pods").Lists);
        Assert.DoesNotContain(host.Logs.GetSnapshot(), r => r.Id.Name == "ClusterViewDisconnected");
    }

    [Fact]
    public async Task A_closed_watch_resumes_from_the_last_resource_version_without_a_relist()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        await host.View.Synced.WaitAsync(TimeSpan.FromSeconds(20));
        var pods = host.View.Reflectors.Single(r => r.Resource == "pods");
        await ClusterViewHost.EventuallyAsync(
            () =>
            {
                host.ApiServer.SendBookmarks();
                return pods.IsWatching;
            },
            "the pods watch is open and has seen an event");

        host.ApiServer.CloseWatches();
        host.ApiServer.AddPod("shop", "after-close");
        await ClusterViewHost.EventuallyAsync(() => host.View.Pods.TryGet("shop", "after-close", out _), "the view saw the pod added after the close");

        Assert.Equal(1, host.ApiServer.GetRequestCount("list", KubernetesTestResource.Pods));
        Assert.True(host.ApiServer.GetRequestCount("watch", KubernetesTestResource.Pods) >= 2);
    }

    [Fact]
    public async Task Bookmarks_move_the_resume_point()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        await host.View.Synced.WaitAsync(TimeSpan.FromSeconds(20));
        var pods = host.View.Reflectors.Single(r => r.Resource == "pods");
        host.ApiServer.AddServiceAccount("shop", "other");
        var version = host.ApiServer.ResourceVersion;

        await ClusterViewHost.EventuallyAsync(
            () =>
            {
                host.ApiServer.SendBookmarks();
                return pods.ResourceVersion == version;
            },
            "a bookmark moved the pods watch to the newest resourceVersion");
    }

    [Theory]
    [InlineData(KubernetesTestExpiry.HttpStatus)]
    [InlineData(KubernetesTestExpiry.ErrorEvent)]
    public async Task After_410_the_view_relists_and_catches_up(KubernetesTestExpiry form)
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        await host.View.Synced.WaitAsync(TimeSpan.FromSeconds(20));
        await ClusterViewHost.EventuallyAsync(() => host.ApiServer.OpenWatches >= 3, "the watches are open");

        // Changes the watch will never deliver: only a new LIST shows them.
        host.ApiServer.PauseWatchEvents = true;
        host.ApiServer.AddPod("shop", "missed");
        host.ApiServer.Delete(KubernetesTestResource.Pods, "shop", "checkout-1");
        host.ApiServer.ExpireResourceVersions(form);
        await ClusterViewHost.EventuallyAsync(() => host.View.Pods.TryGet("shop", "missed", out _) && !host.View.Pods.TryGet("shop", "checkout-1", out _), "the view relisted");

        Assert.Equal(2, host.ApiServer.GetRequestCount("list", KubernetesTestResource.Pods));
    }
}
