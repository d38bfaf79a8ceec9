// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Client;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the calling Pod's service-account token to the requests of an <see cref="System.Net.Http.HttpClient"/>.</summary>
public static class KubernetesServiceAccountTokenHttpClientBuilderExtensions
{
    /// <summary>
    /// Sends <c>Authorization: Bearer</c> with the Pod's mounted token, read again when the kubelet rotates
    /// it and once after a 401.
    /// </summary>
    /// <param name="builder">The client builder.</param>
    /// <returns>The builder.</returns>
    public static IHttpClientBuilder AddKubernetesServiceAccountToken(this IHttpClientBuilder builder)
        => builder.AddKubernetesServiceAccountToken(_ => { });

    /// <summary>
    /// Sends <c>Authorization: Bearer</c> with the token in <paramref name="tokenPath"/>, read again when
    /// the kubelet rotates it and once after a 401.
    /// </summary>
    /// <param name="builder">The client builder.</param>
    /// <param name="tokenPath">The token file, e.g. a projected <c>/var/run/secrets/tokens/my-api</c>.</param>
    /// <returns>The builder.</returns>
    public static IHttpClientBuilder AddKubernetesServiceAccountToken(this IHttpClientBuilder builder, string tokenPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(tokenPath);
        return builder.AddKubernetesServiceAccountToken(options => options.Path = tokenPath);
    }

    /// <summary>
    /// Sends <c>Authorization: Bearer</c> with the token file configured by <paramref name="configure"/>.
    /// One <see cref="ServiceAccountTokenSource"/> serves every handler the factory creates for this client.
    /// </summary>
    /// <param name="builder">The client builder.</param>
    /// <param name="configure">Configures the token source (path, refresh interval).</param>
    /// <returns>The builder.</returns>
    public static IHttpClientBuilder AddKubernetesServiceAccountToken(this IHttpClientBuilder builder, Action<ServiceAccountTokenSourceOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var holder = new SourceHolder(configure);
        return builder.AddHttpMessageHandler(services => new KubernetesServiceAccountTokenHandler(holder.Get(services)));
    }

    private sealed class SourceHolder(Action<ServiceAccountTokenSourceOptions> configure)
    {
        private readonly object _gate = new();
        private ServiceAccountTokenSource? _source;

        public ServiceAccountTokenSource Get(IServiceProvider services)
        {
            lock (_gate)
            {
                if (_source is null)
                {
                    var options = new ServiceAccountTokenSourceOptions { TimeProvider = services.GetService<TimeProvider>() };
                    configure(options);
                    _source = new ServiceAccountTokenSource(options);
                }

                return _source;
            }
        }
    }
}
