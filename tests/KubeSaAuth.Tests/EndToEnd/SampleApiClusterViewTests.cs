// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Text.Json;
using KubeSaAuth.Testing;
using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.EndToEnd;

/// <summary>The sample's <c>/prod</c> and <c>/checkout</c>, with <c>ClusterView:*</c> from configuration and the stand-in API server.</summary>
public sealed class SampleApiClusterViewTests : IAsyncLifetime
{
    private readonly FakeApiServer _cluster = FakeApiServer.ForSampleApi();
    private KubernetesTestApiServer _apiServer = null!;

    public async Task InitializeAsync()
    {
        _apiServer = await KubernetesTestApiServer.StartAsync();
        _apiServer.AddNamespace("my-namespace", new Dictionary<string, string> { ["env"] = "prod" });
        _apiServer.AddNamespace("dev", new Dictionary<string, string> { ["env"] = "dev" });
        _apiServer.AddServiceAccount("my-namespace", "my-service-account");
        _apiServer.AddServiceAccount("dev", "my-service-account");
        _apiServer.AddPod("my-namespace", "checkout-1", new Dictionary<string, string> { ["app"] = "checkout" });
        _apiServer.AddPod("my-namespace", "payments-canary", new Dictionary<string, string> { ["app"] = "payments", ["tier"] = "canary" });
        _apiServer.AddPod("dev", "checkout-1", new Dictionary<string, string> { ["app"] = "checkout" });
    }

    public async Task DisposeAsync()
    {
        await _apiServer.DisposeAsync();
        _cluster.Dispose();
    }

    [Theory]
    [InlineData("/prod", "my-namespace", "checkout-1", HttpStatusCode.OK)]
    [InlineData("/prod", "dev", "checkout-1", HttpStatusCode.Forbidden)]
    [InlineData("/checkout", "my-namespace", "checkout-1", HttpStatusCode.OK)]
    [InlineData("/checkout", "my-namespace", "payments-canary", HttpStatusCode.Forbidden)]
    [InlineData("/checkout", "dev", "checkout-1", HttpStatusCode.OK)]
    public async Task Label_policies_decide_by_the_callers_namespace_and_pod_labels(string path, string ns, string pod, HttpStatusCode expected)
    {
        await using var api = _cluster.CreateSampleApi(new Dictionary<string, string?>
        {
            ["ClusterView:Enabled"] = "true",
            ["ClusterView:ApiServer"] = _apiServer.BaseAddress.ToString(),
            ["ClusterView:PageSize"] = "2",
        });

        using var response = await FakeApiServer.GetAsync(api.CreateClient(), path, Token(ns, pod));

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.OK)
        {
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal(ns, json.RootElement.GetProperty("namespace").GetString());
        }
    }

    [Fact]
    public async Task Without_the_view_label_policies_refuse_with_403()
    {
        await using var api = _cluster.CreateSampleApi();

        using var prod = await FakeApiServer.GetAsync(api.CreateClient(), "/prod", Token("my-namespace", "checkout-1"));

        Assert.Equal(HttpStatusCode.Forbidden, prod.StatusCode);
    }

    [Fact]
    public async Task A_deleted_pods_token_is_refused_by_the_sample()
    {
        await using var api = _cluster.CreateSampleApi(new Dictionary<string, string?>
        {
            ["ClusterView:Enabled"] = "true",
            ["ClusterView:ApiServer"] = _apiServer.BaseAddress.ToString(),
        });
        var client = api.CreateClient();
        var token = Token("my-namespace", "checkout-1");
        using (var ok = await FakeApiServer.GetAsync(client, "/whoami", token))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        _apiServer.Delete(KubernetesTestResource.Pods, "my-namespace", "checkout-1");
        HttpStatusCode status = HttpStatusCode.OK;
        await ClusterViewHost.EventuallyAsync(
            () =>
            {
                using var response = FakeApiServer.GetAsync(client, "/whoami", token).GetAwaiter().GetResult();
                status = response.StatusCode;
                return status == HttpStatusCode.Unauthorized;
            },
            "the sample refuses the deleted pod's token");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    private string Token(string ns, string pod) =>
        _cluster.Issuer.CreateToken(ns, "my-service-account")
            .WithServiceAccountUid(_apiServer.Get(KubernetesTestResource.ServiceAccounts, ns, "my-service-account")!.Uid)
            .WithPod(pod, _apiServer.Get(KubernetesTestResource.Pods, ns, pod)!.Uid)
            .Build();
}
