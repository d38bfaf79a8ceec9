// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Client;

namespace KubeSaAuth.Backchannel;

/// <summary>
/// What the backchannel trusts and sends: a CA bundle trusted alone (<see langword="null"/>: the machine's
/// store) and a bearer token file (<see langword="null"/>: no token). One per pair of files, shared by the
/// key backchannel of every scheme and by TokenReview.
/// </summary>
internal sealed class BackchannelCredentials(CustomRootTrust? trust, ServiceAccountTokenSource? token)
{
    public CustomRootTrust? Trust { get; } = trust;

    public ServiceAccountTokenSource? Token { get; } = token;

    /// <summary>
    /// The handler chain: the token (re-read on change and after a 401) sent only to <paramref name="tokenOrigins"/>,
    /// over TLS that trusts only the bundle when there is one.
    /// </summary>
    public HttpMessageHandler CreateHandler(IReadOnlyCollection<Uri> tokenOrigins)
    {
        HttpMessageHandler tls = CreateTlsHandler();
        return Token is null
            ? tls
            : new KubernetesServiceAccountTokenHandler(Token, request => tokenOrigins.Any(origin => IsSameOrigin(request.RequestUri, origin))) { InnerHandler = tls };
    }

    /// <summary>The TLS layer alone.</summary>
    public SocketsHttpHandler CreateTlsHandler() => Trust?.CreateTlsHandler() ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };

    /// <summary>Scheme, host and port equal (RFC 6454 origin): the token never goes to another host or port, nor over plain HTTP to an HTTPS origin.</summary>
    internal static bool IsSameOrigin(Uri? request, Uri origin) =>
        request is not null
        && string.Equals(request.Scheme, origin.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(request.IdnHost, origin.IdnHost, StringComparison.OrdinalIgnoreCase)
        && request.Port == origin.Port;
}
