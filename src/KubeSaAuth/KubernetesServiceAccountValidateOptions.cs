// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.Extensions.Options;

namespace KubeSaAuth;

/// <summary>Runs <see cref="KubernetesServiceAccountOptions.Validate()"/> for <c>ValidateOnStart</c>.</summary>
internal sealed class KubernetesServiceAccountValidateOptions : IValidateOptions<KubernetesServiceAccountOptions>
{
    public ValidateOptionsResult Validate(string? name, KubernetesServiceAccountOptions options)
    {
        var error = options.GetValidationError();
        return error is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail($"Authentication scheme '{name}': {error}");
    }
}
