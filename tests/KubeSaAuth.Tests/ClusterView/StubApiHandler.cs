// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Collections.Concurrent;
using System.Net;
using System.Text;
using KubeSaAuth.ClusterView;

namespace KubeSaAuth.Tests.ClusterView;

/// <summary>
/// An in-memory API server for unit tests of the view's client parts (no socket): each request is answered by
/// <see cref="Answer"/>, optionally held until <see cref="Release"/>, and its path and query are recorded.
/// </summary>
internal sealed class StubApiHandler : HttpMessageHandler
{
    private readonly ConcurrentQueue<string> _requests = new();
    private TaskCompletionSource _gate = CompletedGate();

    /// <summary>Answers a request (path and query).</summary>
    public Func<string, HttpResponseMessage> Answer { get; set; } = _ => Status(404, "NotFound", "not found");

    /// <summary>The path and query of every request, in order.</summary>
    public IReadOnlyList<string> Requests => [.. _requests];

    /// <summary>Holds every answer until <see cref="Release"/>.</summary>
    public void Hold() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => _gate.TrySetResult();

    public MetadataClient CreateClient() => new(() => new HttpClient(this, disposeHandler: false), new Uri("https://api.test/"));

    public ObjectLookup CreateLookup(TimeProvider time, Action<KubernetesClusterViewOptions>? configure = null)
    {
        var options = new KubernetesClusterViewOptions();
        configure?.Invoke(options);
        return new ObjectLookup(CreateClient(), new StringPool(), options, TimeSpan.FromSeconds(10), time, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, "test");
    }

    /// <summary>Waits (bounded, never a timing assertion) until <paramref name="count"/> requests arrived.</summary>
    public Task WaitForRequestsAsync(int count) =>
        Infrastructure.ClusterViewHost.EventuallyAsync(() => _requests.Count >= count, $"{count} requests reached the stand-in");

    public static HttpResponseMessage Object(string ns, string name, string uid, string labels = "{}") =>
        Json(200, $$"""{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"{{name}}","namespace":"{{ns}}","uid":"{{uid}}","resourceVersion":"7","labels":""" + labels + "}}");

    public static HttpResponseMessage Status(int code, string reason, string message) =>
        Json(code, $$"""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"{{message}}","reason":"{{reason}}","code":{{code}}}""");

    public static HttpResponseMessage Json(int code, string json) =>
        new((HttpStatusCode)code) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        _requests.Enqueue(request.RequestUri!.PathAndQuery);
        await _gate.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return Answer(request.RequestUri.PathAndQuery);
    }

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource();
        gate.SetResult();
        return gate;
    }
}
