// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

// <doc>
using System.Net;
using KubeSaAuth.Testing;                 // package KubeSaAuth.Testing
using Microsoft.AspNetCore.Mvc.Testing;   // WebApplicationFactory: comes with KubeSaAuth.Testing
// </doc>

namespace KubeSaAuth.Tests.TestKit;

// The label-policy example of docs/testing.md, verbatim between the doc markers (Docs/DocSnippetTests checks it).
// The sample's /checkout requires "pod-selector:app in (checkout,payments),tier!=canary".
// <doc>
public sealed class CheckoutLabelPolicyTests
{
    [Fact]
    public async Task Checkout_admits_checkout_pods_but_not_canaries_and_not_deleted_pods()
    {
        await using var cluster = await KubernetesTestApiServer.StartAsync();
        cluster.AddNamespace("shop");
        var serviceAccount = cluster.AddServiceAccount("shop", "checkout");
        var stable = cluster.AddPod("shop", "checkout-1", new Dictionary<string, string> { ["app"] = "checkout" });
        var canary = cluster.AddPod("shop", "checkout-2", new Dictionary<string, string> { ["app"] = "checkout", ["tier"] = "canary" });

        await using var factory = new WebApplicationFactory<Program>()
            .WithKubernetesTestIssuer(out var issuer)
            .WithKubernetesTestApiServer(cluster);
        _ = factory.Services;                             // starts the host: the issuer adopts the app's audiences
        string TokenOf(KubernetesTestObject pod) => issuer.CreateToken("shop", "checkout")
            .WithServiceAccountUid(serviceAccount.Uid)    // the view checks that both still exist with these uids
            .WithPod(pod.Name, pod.Uid)
            .Build();
        using var fromStable = factory.CreateClientWithToken(TokenOf(stable));
        using var fromCanary = factory.CreateClientWithToken(TokenOf(canary));

        using var admitted = await fromStable.GetAsync(new Uri("/checkout", UriKind.Relative));
        using var forbidden = await fromCanary.GetAsync(new Uri("/checkout", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);

        // Revocation: once the watch event arrives (milliseconds), the deleted Pod's token is refused.
        cluster.Delete(KubernetesTestResource.Pods, "shop", "checkout-1");
        HttpResponseMessage revoked;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((revoked = await fromStable.GetAsync(new Uri("/checkout", UriKind.Relative))).StatusCode != HttpStatusCode.Unauthorized
            && DateTime.UtcNow < deadline)
        {
            revoked.Dispose();
            await Task.Delay(20);
        }

        using (revoked)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, revoked.StatusCode);
            Assert.Contains("the token's pod 'checkout-1' no longer exists", revoked.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }
    }
}
// </doc>
