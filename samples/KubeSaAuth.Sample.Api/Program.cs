// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Sample.Api;

// The reference API. Every setting comes from configuration: the handler binds
// Authentication:Schemes:KubernetesServiceAccount (e.g. Authentication__Schemes__KubernetesServiceAccount__Issuer),
// so the same build runs unchanged against any cluster.
var app = SampleApi.Create(args);
app.Run();

/// <summary>The sample's entry point, visible to WebApplicationFactory.</summary>
public partial class Program;
