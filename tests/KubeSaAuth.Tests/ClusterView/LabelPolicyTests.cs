// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Security.Claims;
using KubeSaAuth.Authorization;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.Tests.ClusterView;

/// <summary>
/// <c>namespace-selector:</c> and <c>pod-selector:</c> policies over the cluster view. The host maps <c>/prod</c>
/// (<c>namespace-selector:env=prod</c>) and <c>/checkout</c> (<c>pod-selector:app in (checkout,payments),tier!=canary</c>).
/// </summary>
public sealed class LabelPolicyTests
{
    [Fact]
    public async Task Admits_callers_whose_namespace_and_pod_labels_match()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));

        using var prod = await host.GetAsync("/prod", host.Token());
        using var checkout = await host.GetAsync("/checkout", host.Token());

        Assert.Equal(HttpStatusCode.OK, prod.StatusCode);
        Assert.Equal(HttpStatusCode.OK, checkout.StatusCode);
    }

    [Fact]
    public async Task Pod_label_changes_are_seen()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        var token = host.Token();
        using (var before = await host.GetAsync("/checkout", token))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        host.ApiServer.SetLabels(KubernetesTestResource.Pods, "shop", "checkout-1", new Dictionary<string, string> { ["app"] = "checkout", ["tier"] = "canary" });
        await ClusterViewHost.EventuallyAsync(() => host.View.Pods.TryGet("shop", "checkout-1", out var p) && p!.Labels.ContainsKey("tier"), "the view saw the new labels");
        using var after = await host.GetAsync("/checkout", token);

        Assert.Equal(HttpStatusCode.Forbidden, after.StatusCode);
    }

    [Fact]
    public async Task Namespace_label_changes_are_seen()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        var token = host.Token();
        using (var before = await host.GetAsync("/prod", token))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        host.ApiServer.SetLabels(KubernetesTestResource.Namespaces, string.Empty, "shop", new Dictionary<string, string> { ["env"] = "staging" });
        await ClusterViewHost.EventuallyAsync(() => host.View.GetNamespaceLabels("shop")?["env"] == "staging", "the view saw the new labels");
        using var after = await host.GetAsync("/prod", token);

        Assert.Equal(HttpStatusCode.Forbidden, after.StatusCode);
    }

    [Fact]
    public async Task A_token_not_bound_to_a_pod_never_matches_a_pod_selector()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s));
        var token = host.Issuer.CreateToken("shop", "checkout").WithServiceAccountUid(host.ApiServer.Get(KubernetesTestResource.ServiceAccounts, "shop", "checkout")!.Uid).Build();

        using var checkout = await host.GetAsync("/checkout", token);
        using var any = await host.GetAsync("/any", token);

        Assert.Equal(HttpStatusCode.Forbidden, checkout.StatusCode);
        Assert.Equal(HttpStatusCode.OK, any.StatusCode);
    }

    [Fact]
    public async Task A_token_not_bound_to_a_pod_never_matches_even_a_selector_that_only_excludes_labels()
    {
        // '!legacy' matches every Pod without the label, and would match an empty label set: a token with no Pod
        // has no labels at all, not empty ones.
        await using var host = await ClusterViewHost.StartAsync(
            s => ClusterViewHost.SeedShop(s),
            map: app => app.MapGet("/not-legacy", () => "ok").RequireAuthorization("pod-selector:!legacy"));
        var unbound = host.Issuer.CreateToken("shop", "checkout").WithServiceAccountUid(host.ApiServer.Get(KubernetesTestResource.ServiceAccounts, "shop", "checkout")!.Uid).Build();

        using var refused = await host.GetAsync("/not-legacy", unbound);
        using var admitted = await host.GetAsync("/not-legacy", host.Token());

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
    }

    [Fact]
    public async Task Without_the_view_label_policies_refuse_and_plain_policies_work()
    {
        await using var host = await ClusterViewHost.StartAsync(s => ClusterViewHost.SeedShop(s), enableView: false);
        var token = host.Token();

        using var prod = await host.GetAsync("/prod", token);
        using var plain = await host.GetAsync("/ns", token);

        Assert.Equal(HttpStatusCode.Forbidden, prod.StatusCode);
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Equal(0, host.ApiServer.RequestCount);
    }

    [Fact]
    public async Task When_rbac_refuses_the_service_starts_label_policies_refuse_and_health_and_log_name_the_verbs()
    {
        await using var host = await ClusterViewHost.StartAsync(s =>
        {
            ClusterViewHost.SeedShop(s);
            s.Forbid("list", KubernetesTestResource.Pods);
            s.Forbid("get", KubernetesTestResource.Pods);
        });
        var token = host.Token();

        using var plain = await host.GetAsync("/ns", token);
        using var checkout = await host.GetAsync("/checkout", token);
        using var prod = await host.GetAsync("/prod", token);
        var health = await host.HealthAsync();

        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, checkout.StatusCode);
        Assert.Equal(HttpStatusCode.OK, prod.StatusCode);
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("may not list pods", health.Entries.Values.Single().Description, StringComparison.Ordinal);
        var warning = Assert.Single(host.Logs.GetSnapshot(), r => r.Id.Name == "ClusterViewForbidden");
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("'list' and 'watch' on 'pods'", warning.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(KubernetesTestResource.Pods, "/checkout", "pods")]
    [InlineData(KubernetesTestResource.Namespaces, "/prod", "namespaces")]
    public async Task When_rbac_refuses_only_the_watch_label_policies_refuse_and_health_and_log_name_the_watch(KubernetesTestResource resource, string path, string name)
    {
        // The LIST succeeds, so the view holds the labels of that moment; without the watch they would never change
        // again (nor would a revocation be seen): label policies must not decide on them.
        await using var host = await ClusterViewHost.StartAsync(s =>
        {
            ClusterViewHost.SeedShop(s);
            s.Forbid("watch", resource);
        });
        var token = host.Token();
        await ClusterViewHost.EventuallyAsync(() => host.Logs.GetSnapshot().Any(r => r.Id.Name == "ClusterViewForbidden"), "the view was refused the watch");

        using var plain = await host.GetAsync("/ns", token);
        using var labels = await host.GetAsync(path, token);
        var health = await host.HealthAsync();

        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, labels.StatusCode);
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains($"may not watch {name}", health.Entries.Values.Single().Description, StringComparison.Ordinal);
        var warning = Assert.Single(host.Logs.GetSnapshot(), r => r.Id.Name == "ClusterViewForbidden");
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains($"RBAC refuses to watch {name}", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_typed_view_carries_the_labels_live()
    {
        await using var host = await ClusterViewHost.StartAsync(
            s => ClusterViewHost.SeedShop(s),
            map: app => app.MapGet("/labels", (ClaimsPrincipal user) =>
            {
                var caller = user.GetKubernetesServiceAccount()!;
                return Results.Text($"{caller.NamespaceLabels?["env"]}/{caller.PodLabels?["app"]}");
            }).RequireAuthorization());

        using var response = await host.GetAsync("/labels", host.Token());

        Assert.Equal("prod/checkout", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Builder_helpers_and_the_cluster_suffix_work_like_the_policy_names()
    {
        await using var host = await ClusterViewHost.StartAsync(
            s => ClusterViewHost.SeedShop(s),
            map: app =>
            {
                app.MapGet("/helper", () => "ok").RequireAuthorization("helper");
                app.MapGet("/here", () => "ok").RequireAuthorization($"pod-selector:app=checkout@{ClusterViewHost.Scheme}");
                app.MapGet("/elsewhere", () => "ok").RequireAuthorization("pod-selector:app=checkout@other-cluster");
            },
            authorization: o => o.AddPolicy("helper", p => p.RequireKubernetesPodLabels("app=checkout").RequireKubernetesNamespaceLabels("env in (prod)")));
        var token = host.Token();

        using var helper = await host.GetAsync("/helper", token);
        using var here = await host.GetAsync("/here", token);
        using var elsewhere = await host.GetAsync("/elsewhere", token);

        Assert.Equal(HttpStatusCode.OK, helper.StatusCode);
        Assert.Equal(HttpStatusCode.OK, here.StatusCode);
        Assert.NotEqual(HttpStatusCode.OK, elsewhere.StatusCode);
    }

    [Theory]
    [InlineData("pod-selector:app in (checkout")]
    [InlineData("namespace-selector:env=prod,")]
    [InlineData("namespace-selector:Env_=prod@east")]
    public void A_selector_that_does_not_parse_is_an_error_naming_the_policy(string policy)
    {
        var error = Assert.Throws<InvalidOperationException>(() => KubernetesAuthorizationPolicyProvider.TryParseSelector(policy));

        Assert.Contains($"'{policy}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_builder_helper_refuses_a_selector_that_does_not_parse()
    {
        var error = Assert.Throws<ArgumentException>(() => new AuthorizationPolicyBuilder().RequireKubernetesPodLabels("app in"));

        Assert.Contains("'app in'", error.Message, StringComparison.Ordinal);
    }
}
