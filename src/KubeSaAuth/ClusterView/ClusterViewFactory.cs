// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Backchannel;
using KubeSaAuth.InCluster;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KubeSaAuth.ClusterView;

/// <summary>
/// Builds a cluster's <see cref="KubernetesClusterView"/> when <c>ClusterView:Enabled</c>. It reaches the API server as
/// TokenReview does, through the named client <c>KubeSaAuth.ClusterView.{scheme}</c>: in-cluster with the Pod's own
/// token and <c>ca.crt</c>; from outside at <c>ClusterView:ApiServer</c>, trusting <c>BackchannelCaCertificatePath</c>
/// and sending the token of <c>BackchannelTokenPath</c> (to the API server's origin only).
/// </summary>
internal sealed class ClusterViewFactory(IServiceProvider services, IHttpClientFactory httpClientFactory, ILoggerFactory loggerFactory)
{
    internal const string HttpClientNamePrefix = "KubeSaAuth.ClusterView.";

    public KubernetesClusterView? Create(string scheme, KubernetesServiceAccountOptions options)
    {
        if (!options.ClusterView.Enabled)
        {
            return null;
        }

        var (apiServer, _) = ResolveApiServer(services, options);
        var clientName = HttpClientNamePrefix + scheme;
        var client = new MetadataClient(() => httpClientFactory.CreateClient(clientName), apiServer);
        var logger = loggerFactory.CreateLogger(typeof(KubernetesClusterView).FullName!);
        var cluster = string.IsNullOrEmpty(options.ClusterName) ? scheme : options.ClusterName;
        return new KubernetesClusterView(cluster, options.ClusterView, client, options.BackchannelTimeout, options.TimeProvider ?? TimeProvider.System, logger);
    }

    /// <summary>
    /// The view of a cluster of <c>Clusters</c> (known only when the scheme starts, so no named client was
    /// registered for it): a client of its own, trusting its own files and sending its token to its API server only.
    /// <paramref name="name"/> is <c>{scheme}/{cluster}</c>, the name its logs use.
    /// </summary>
    public KubernetesClusterView? CreateWithOwnClient(string name, KubernetesServiceAccountOptions options)
    {
        if (!options.ClusterView.Enabled)
        {
            return null;
        }

        var (apiServer, inCluster) = ResolveApiServer(services, options);
        var (caPath, tokenPath) = ResolveFiles(options, inCluster);
        var handler = services.GetRequiredService<BackchannelCredentialsRegistry>().Get(caPath, tokenPath, options.TimeProvider).CreateHandler([apiServer]);
        var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        var client = new MetadataClient(() => http, apiServer);
        var logger = loggerFactory.CreateLogger(typeof(KubernetesClusterView).FullName!);

        // Logged as 'scheme/cluster', as the cluster's key source is: two schemes may each hold a cluster of one name.
        return new KubernetesClusterView(name, options.ClusterView, client, options.BackchannelTimeout, options.TimeProvider ?? TimeProvider.System, logger);
    }

    /// <summary>Registers the view's client of <paramref name="scheme"/> (used only when the view is on).</summary>
    internal static void AddHttpClient(IServiceCollection services, string scheme)
    {
        // No client timeout: a watch is a response that lasts minutes; each call bounds itself.
        services.AddHttpClient(HttpClientNamePrefix + scheme, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(sp =>
            {
                var options = sp.GetRequiredService<IOptionsMonitor<KubernetesServiceAccountOptions>>().Get(scheme);
                var (apiServer, inCluster) = ResolveApiServer(sp, options);
                var (caPath, tokenPath) = ResolveFiles(options, inCluster);
                return sp.GetRequiredService<BackchannelCredentialsRegistry>().Get(caPath, tokenPath, options.TimeProvider).CreateHandler([apiServer]);
            });
    }

    /// <summary>
    /// <c>ClusterView:ApiServer</c>, else <c>TokenReview:ApiServer</c>, else the in-cluster API server (then
    /// <paramref name="services"/>' <see cref="InClusterEnvironment"/>, or the process's variables).
    /// </summary>
    internal static (Uri ApiServer, bool InCluster) ResolveApiServer(IServiceProvider services, KubernetesServiceAccountOptions options)
    {
        var (configured, name) = !string.IsNullOrWhiteSpace(options.ClusterView.ApiServer)
            ? (options.ClusterView.ApiServer, "ClusterView:ApiServer")
            : (options.TokenReview.ApiServer, "TokenReview:ApiServer");
        if (!string.IsNullOrWhiteSpace(configured))
        {
            if (!Uri.TryCreate(configured, UriKind.Absolute, out var uri)
                || (uri.Scheme != Uri.UriSchemeHttps && (options.RequireHttpsMetadata || uri.Scheme != Uri.UriSchemeHttp)))
            {
                throw new InvalidOperationException($"The '{name}' option ('{configured}') must be an absolute HTTPS URL.");
            }

            return (uri, false);
        }

        return ((services.GetService<InClusterEnvironment>() ?? InClusterEnvironment.Process).ResolveApiServer().BaseAddress, true);
    }

    /// <summary>The explicit backchannel files, else — for the in-cluster API server — the Pod's <c>ca.crt</c> and <c>token</c>.</summary>
    internal static (string? CaPath, string? TokenPath) ResolveFiles(KubernetesServiceAccountOptions options, bool inCluster)
    {
        var podFiles = inCluster || options.InCluster;
        var ca = !string.IsNullOrWhiteSpace(options.BackchannelCaCertificatePath) ? options.BackchannelCaCertificatePath
            : podFiles ? Path.Combine(options.ServiceAccountDirectory, InClusterCredentials.CaFile) : null;
        var token = !string.IsNullOrWhiteSpace(options.BackchannelTokenPath) ? options.BackchannelTokenPath
            : podFiles ? Path.Combine(options.ServiceAccountDirectory, InClusterCredentials.TokenFile) : null;
        return (ca, token);
    }
}
