// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace KubeSaAuth.ClusterView;

/// <summary>
/// The few API calls the view makes, metadata only (the API server converts objects to
/// <c>PartialObjectMetadata</c>: no spec, no status on the wire): paged LIST, WATCH, GET of one object. Plain
/// <see cref="HttpClient"/> and source-generated JSON, so it runs under Native AOT (the KubernetesClient
/// package's AOT flavour has neither watch nor metadata-only requests).
/// </summary>
internal sealed class MetadataClient(Func<HttpClient> client, Uri apiServer)
{
    /// <summary>DESIGN.md "The cluster view": a list asks for PartialObjectMetadataList, falling back to plain JSON.</summary>
    internal const string ListAccept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";

    /// <summary>A watch or a GET asks for PartialObjectMetadata.</summary>
    internal const string ObjectAccept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

    /// <summary>The longest error body read (a Status object is small).</summary>
    private const int MaxErrorBytes = 64 * 1024;

    /// <summary>The longest watch line accepted (one object's metadata).</summary>
    private const int MaxLineChars = 1024 * 1024;

    private readonly string _base = apiServer.GetLeftPart(UriPartial.Authority) + apiServer.AbsolutePath.TrimEnd('/');
    private long _bytesReceived;
    private long _requests;

    public Uri ApiServer { get; } = apiServer;

    /// <summary>Bytes of response bodies read so far (for the scale benchmark and diagnostics).</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    /// <summary>Requests sent so far.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>One page of a LIST. <paramref name="continueToken"/> continues a list; an expired one answers 410.</summary>
    public async Task<ListJson> ListAsync(string path, int limit, string? continueToken, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var query = new StringBuilder(path).Append("?limit=").Append(limit.ToString(CultureInfo.InvariantCulture));
        if (!string.IsNullOrEmpty(continueToken))
        {
            query.Append("&continue=").Append(Uri.EscapeDataString(continueToken));
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        using var response = await SendAsync(query.ToString(), ListAccept, cts.Token).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cts.Token).ConfigureAwait(false);
        await using var stream = new CountingStream(await response.Content.ReadAsStreamAsync(cts.Token).ConfigureAwait(false), this);
        return await JsonSerializer.DeserializeAsync(stream, ClusterViewJsonContext.Default.ListJson, cts.Token).ConfigureAwait(false)
            ?? throw new JsonException("The list answer is 'null'.");
    }

    /// <summary>
    /// A WATCH from <paramref name="resourceVersion"/>, with bookmarks, held by the server for <paramref name="timeoutSeconds"/>.
    /// Ends when the server closes it; a line that is not an event ends it with a <see cref="JsonException"/>.
    /// </summary>
    public async IAsyncEnumerable<WatchEventJson> WatchAsync(string path, string? resourceVersion, int timeoutSeconds, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // No resourceVersion: a streaming list (KEP-3157): the current state as ADDED events, from a consistent read,
        // then a bookmark annotated k8s.io/initial-events-end, then the changes as in any watch.
        var query = resourceVersion is null
            ? path + "?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=" + timeoutSeconds.ToString(CultureInfo.InvariantCulture)
            : path + "?watch=1&resourceVersion=" + Uri.EscapeDataString(resourceVersion) + "&allowWatchBookmarks=true&timeoutSeconds=" + timeoutSeconds.ToString(CultureInfo.InvariantCulture);
        using var response = await SendAsync(query, ObjectAccept, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        await using var stream = new CountingStream(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), this);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            if (line.Length > MaxLineChars)
            {
                throw new JsonException($"A watch event of {line.Length} characters is longer than the {MaxLineChars} accepted.");
            }

            yield return JsonSerializer.Deserialize(line, ClusterViewJsonContext.Default.WatchEventJson) ?? throw new JsonException("A watch event is 'null'.");
        }
    }

    /// <summary>One object's metadata; <see langword="null"/> when the API server answers 404.</summary>
    public async Task<ObjectJson?> GetAsync(string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        using var response = await SendAsync(path, ObjectAccept, cts.Token).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            // A 404 of the resource itself carries a Status with reason NotFound; anything else (a proxy's page) is an error.
            var status = await ReadStatusAsync(response, cts.Token).ConfigureAwait(false);
            if (status?.Reason is "NotFound" || status?.Kind is "Status")
            {
                return null;
            }

            throw new ApiStatusException(404, null, "the API server answered 404 without a Status object");
        }

        await EnsureSuccessAsync(response, cts.Token).ConfigureAwait(false);
        await using var stream = new CountingStream(await response.Content.ReadAsStreamAsync(cts.Token).ConfigureAwait(false), this);
        return await JsonSerializer.DeserializeAsync(stream, ClusterViewJsonContext.Default.ObjectJson, cts.Token).ConfigureAwait(false);
    }

    private async Task<HttpResponseMessage> SendAsync(string pathAndQuery, string accept, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _base + pathAndQuery);
        // Sent exactly as written (ParseAdd would reformat the parameters with spaces).
        request.Headers.TryAddWithoutValidation("Accept", accept);
        Interlocked.Increment(ref _requests);
        return await client().SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
    }

    private async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var status = await ReadStatusAsync(response, cancellationToken).ConfigureAwait(false);
        var code = (int)response.StatusCode;
        throw new ApiStatusException(code, status?.Reason, status?.Message is { Length: > 0 } message ? message : $"HTTP {code} {response.ReasonPhrase}");
    }

    private async Task<ObjectJson?> ReadStatusAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var bytes = await ReadLimitedAsync(response.Content, cancellationToken).ConfigureAwait(false);
            Interlocked.Add(ref _bytesReceived, bytes.Length);
            return bytes.Length == 0 ? null : JsonSerializer.Deserialize(bytes, ClusterViewJsonContext.Default.ObjectJson);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task<byte[]> ReadLimitedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new byte[MaxErrorBytes];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false)) > 0)
        {
            total += read;
        }

        return buffer.AsSpan(0, total).ToArray();
    }

    /// <summary>Counts the bytes read from a response body.</summary>
    private sealed class CountingStream(Stream inner, MetadataClient owner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }

        private int Count(int read)
        {
            Interlocked.Add(ref owner._bytesReceived, read);
            return read;
        }
    }
}
