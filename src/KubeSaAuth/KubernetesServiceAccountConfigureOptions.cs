// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace KubeSaAuth;

/// <summary>
/// Binds <c>Authentication:Schemes:{scheme}</c> (so <c>Authentication__Schemes__KubernetesServiceAccount__Issuer</c>
/// works), as <c>JwtBearerConfigureOptions</c> does. Runs before the code's own configure delegate.
/// </summary>
internal sealed class KubernetesServiceAccountConfigureOptions(IAuthenticationConfigurationProvider configurationProvider)
    : IConfigureNamedOptions<KubernetesServiceAccountOptions>
{
    public void Configure(string? name, KubernetesServiceAccountOptions options)
    {
        if (string.IsNullOrEmpty(name))
        {
            return;
        }

        var section = configurationProvider.GetSchemeConfiguration(name);
        if (!section.GetChildren().Any())
        {
            return;
        }

        section.Bind(options);
    }

    public void Configure(KubernetesServiceAccountOptions options) => Configure(Options.DefaultName, options);
}
