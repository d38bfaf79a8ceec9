// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.Extensions.Options;

namespace KubeSaAuth.Keys;

/// <summary>
/// At startup (<c>ValidateOnStart</c>): in-cluster mode and TokenReview need the Pod's service-account
/// directory; say so clearly instead of failing on the first request.
/// </summary>
internal sealed class InClusterValidateOptions : IValidateOptions<KubernetesServiceAccountOptions>
{
    public ValidateOptionsResult Validate(string? name, KubernetesServiceAccountOptions options)
    {
        if (!options.InCluster && !options.TokenReview.Enabled)
        {
            return ValidateOptionsResult.Skip;
        }

        var problem = string.IsNullOrWhiteSpace(options.ServiceAccountDirectory) ? null : InClusterCredentials.Check(options.ServiceAccountDirectory);
        return problem is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail($"Authentication scheme '{name}': {problem}");
    }
}
