// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Keys;
using KubeSaAuth.Schemes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KubeSaAuth;

/// <summary>Fills the defaults that depend on the container (clock, backchannel client name), only where unset.</summary>
internal sealed class KubernetesServiceAccountPostConfigureOptions(IServiceProvider services)
    : IPostConfigureOptions<KubernetesServiceAccountOptions>
{
    public void PostConfigure(string? name, KubernetesServiceAccountOptions options)
    {
        name ??= Options.DefaultName;
        options.TimeProvider ??= services.GetService<TimeProvider>() ?? TimeProvider.System;
        options.BackchannelHttpClientName ??= KeySourceRegistry.HttpClientNamePrefix + name;
    }
}
