// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Tests.Infrastructure;

namespace KubeSaAuth.Tests.Clusters;

/// <summary>
/// TokenReview on a cluster of <c>Clusters</c> needs an API server of that cluster: its last default, the in-cluster
/// API server, is the service's own cluster, which would refuse every token of another one. So it is a start error
/// naming the cluster's key, as for the cluster view.
/// </summary>
public sealed class ClusterTokenReviewServerTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_cluster_whose_TokenReview_names_no_api_server_is_a_start_error_naming_its_key(bool enabledAtSchemeLevel)
    {
        var error = ClustersViewHost.StartError(o =>
        {
            o.TokenReview.Enabled = enabledAtSchemeLevel;
            o.Clusters.Add("a", c =>
            {
                c.InCluster = true;
                c.TokenReview.Enabled = true;
            });
            o.Clusters.Add("b", c =>
            {
                c.Issuer = "https://b.example";
                c.TokenReview.Enabled = true;
            });
        });

        Assert.NotNull(error);
        Assert.Contains("'Clusters:b:TokenReview:Enabled' option is on", error, StringComparison.Ordinal);
        Assert.Contains("set 'Clusters:b:TokenReview:ApiServer'", error, StringComparison.Ordinal);
        Assert.Equal(enabledAtSchemeLevel, error.Contains("inherited from the scheme-level 'TokenReview:Enabled'", StringComparison.Ordinal));
        Assert.DoesNotContain("'Clusters:a:", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cluster_whose_TokenReview_has_its_own_api_server_or_is_in_cluster_starts()
    {
        var error = ClustersViewHost.StartError(o =>
        {
            o.TokenReview.Enabled = true;
            o.Clusters.Add("a", c => c.InCluster = true);
            o.Clusters.Add("b", c =>
            {
                c.Issuer = "https://b.example";
                c.TokenReview.ApiServer = "https://b-api.example:6443";
            });
        });

        Assert.Null(error);
    }
}
