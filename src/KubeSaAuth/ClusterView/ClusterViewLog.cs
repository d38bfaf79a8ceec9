// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.Extensions.Logging;

namespace KubeSaAuth.ClusterView;

/// <summary>The cluster view's log messages (event ids 600–619).</summary>
internal static partial class ClusterViewLog
{
    [LoggerMessage(EventId = 600, EventName = "ClusterViewListed", Level = LogLevel.Information,
        Message = "Cluster view of '{Cluster}': listed {Count} {Resource} ({Removed} gone since the last list) at resourceVersion {ResourceVersion}.")]
    public static partial void ViewListed(ILogger logger, string cluster, string resource, int count, int removed, string resourceVersion);

    [LoggerMessage(EventId = 601, EventName = "ClusterViewRelisting", Level = LogLevel.Information,
        Message = "Cluster view of '{Cluster}': the API server no longer has the resourceVersion of the {Resource} watch (410 Gone: {Detail}); listing again.")]
    public static partial void ViewRelisting(ILogger logger, string cluster, string resource, string detail);

    [LoggerMessage(EventId = 602, EventName = "ClusterViewForbidden", Level = LogLevel.Warning,
        Message = "Cluster view of '{Cluster}': RBAC refuses to {Verb} {Resource} in {Namespace} ({Detail}). Label policies refuse until it is granted: give the service account 'list' and 'watch' on '{Resource}' (samples/k8s/rbac-cluster-view.yaml). Plain policies are not affected.")]
    public static partial void ViewForbidden(ILogger logger, string cluster, string verb, string resource, string @namespace, string detail);

    [LoggerMessage(EventId = 603, EventName = "ClusterViewDisconnected", Level = LogLevel.Warning,
        Message = "Cluster view of '{Cluster}': the {Resource} list/watch failed ({Detail}); retrying in about {Backoff}. Decisions continue with the view in hand; revocations are not seen until it reconnects.")]
    public static partial void ViewDisconnected(ILogger logger, string cluster, string resource, string detail, TimeSpan backoff);

    [LoggerMessage(EventId = 604, EventName = "ClusterViewLookupFailed", Level = LogLevel.Warning,
        Message = "Cluster view of '{Cluster}': the GET of {Resource} '{Namespace}/{Name}' failed ({Detail}); the caller is decided without it.")]
    public static partial void LookupFailed(ILogger logger, string cluster, string resource, string @namespace, string name, string detail);

    [LoggerMessage(EventId = 605, EventName = "ClusterViewRevoked", Level = LogLevel.Information,
        Message = "Cluster view of '{Cluster}': refused a token of {Namespace}/{ServiceAccount}: {Reason}.")]
    public static partial void Revoked(ILogger logger, string cluster, string @namespace, string serviceAccount, string reason);

    [LoggerMessage(EventId = 606, EventName = "ClusterViewStarted", Level = LogLevel.Information,
        Message = "Cluster view of '{Cluster}': watching {Resources} at {ApiServer}.")]
    public static partial void ViewStarted(ILogger logger, string cluster, string resources, string apiServer);

    [LoggerMessage(EventId = 607, EventName = "ClusterViewStreamingListsRefused", Level = LogLevel.Information,
        Message = "Cluster view of '{Cluster}': the API server does not serve streaming lists of {Resource} ({Detail}); using paged LISTs from now on.")]
    public static partial void StreamingListsRefused(ILogger logger, string cluster, string resource, string detail);
}
