// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Net.Http.Headers;

namespace KubeSaAuth.Client;

/// <summary>
/// Sends <c>Authorization: Bearer &lt;token&gt;</c> from a <see cref="ServiceAccountTokenSource"/>. On a
/// 401, reads the file again once and, when the token changed, retries an idempotent request whose body
/// can be sent twice (GET, HEAD, OPTIONS, TRACE, PUT, DELETE).
/// </summary>
public sealed class KubernetesServiceAccountTokenHandler : DelegatingHandler
{
    private readonly ServiceAccountTokenSource _source;
    private readonly Func<HttpRequestMessage, bool>? _sendTo;

    /// <summary>Creates the handler.</summary>
    /// <param name="source">The token source.</param>
    public KubernetesServiceAccountTokenHandler(ServiceAccountTokenSource source)
        : this(source, sendTo: null)
    {
    }

    /// <summary>Creates the handler that sends the token only to requests <paramref name="sendTo"/> accepts.</summary>
    internal KubernetesServiceAccountTokenHandler(ServiceAccountTokenSource source, Func<HttpRequestMessage, bool>? sendTo)
    {
        ArgumentNullException.ThrowIfNull(source);
        _source = source;
        _sendTo = sendTo;
    }

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_sendTo is not null && !_sendTo(request))
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _source.GetToken());
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized || !CanRetry(request))
        {
            return response;
        }

        // The kubelet may have rotated the file since our last read; a retry with the same token is pointless.
        bool changed;
        try
        {
            changed = _source.Reload();
        }
        catch (InvalidOperationException)
        {
            return response;
        }

        if (!changed)
        {
            return response;
        }

        response.Dispose();
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _source.GetToken());
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    private static bool CanRetry(HttpRequestMessage request)
    {
        var method = request.Method;
        var idempotent = method == HttpMethod.Get || method == HttpMethod.Head || method == HttpMethod.Options
            || method == HttpMethod.Trace || method == HttpMethod.Put || method == HttpMethod.Delete;

        // A stream body may be consumed by the first attempt; buffered bodies can be sent again.
        return idempotent && (request.Content is null || request.Content is ByteArrayContent);
    }
}
