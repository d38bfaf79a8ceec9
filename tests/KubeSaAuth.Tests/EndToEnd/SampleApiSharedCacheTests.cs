// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Sample.Api;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection;

namespace KubeSaAuth.Tests.EndToEnd;

/// <summary>The sample API's Redis switch (DESIGN.md: <c>Redis:Configuration</c> registers Redis and HybridCache).</summary>
public sealed class SampleApiSharedCacheTests
{
    [Fact]
    public async Task Registers_a_Redis_distributed_cache_and_HybridCache_when_Redis_Configuration_is_set()
    {
        await using var app = SampleApi.Create(["--Redis:Configuration=127.0.0.1:6399,abortConnect=false"]);

        Assert.IsAssignableFrom<RedisCache>(app.Services.GetService<IDistributedCache>());
        Assert.NotNull(app.Services.GetService<HybridCache>());
    }

    [Fact]
    public async Task Registers_no_HybridCache_without_Redis_Configuration()
    {
        await using var app = SampleApi.Create([]);

        Assert.Null(app.Services.GetService<HybridCache>());
    }
}
