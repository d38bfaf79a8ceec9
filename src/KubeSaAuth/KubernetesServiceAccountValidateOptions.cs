// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.TokenReview;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KubeSaAuth;

/// <summary>Runs <see cref="KubernetesServiceAccountOptions.Validate()"/> for <c>ValidateOnStart</c>.</summary>
internal sealed class KubernetesServiceAccountValidateOptions(IServiceProvider services) : IValidateOptions<KubernetesServiceAccountOptions>
{
    public ValidateOptionsResult Validate(string? name, KubernetesServiceAccountOptions options)
    {
        var error = options.GetValidationError(name);
        if (error is null && options.GetClusters(name ?? Options.DefaultName).Any(c => c.Options.TokenReview is { Enabled: true, SharedCache: true }) && services.GetService<HybridCache>() is null)
        {
            error = TokenReviewerFactory.MissingHybridCacheMessage;
        }

        return error is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail($"Authentication scheme '{name}': {error}");
    }
}
