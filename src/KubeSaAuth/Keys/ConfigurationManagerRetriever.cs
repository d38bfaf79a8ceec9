// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Keys;

/// <summary>
/// The keys of an IdentityModel configuration manager the application gives (<c>ConfigurationManager</c>):
/// IdentityModel's <c>ConfigurationManager</c>, <c>StaticConfigurationManager</c>, or its own. The key source
/// asks it on its own schedule (first use, every <c>AutomaticRefreshInterval</c>, and an unknown <c>kid</c> at
/// most once per <c>RefreshInterval</c>); every ask after the first calls <see cref="IConfigurationManager{T}.RequestRefresh"/>
/// and then <see cref="IConfigurationManager{T}.GetConfigurationAsync"/>. Whether that fetches is the manager's
/// decision (IdentityModel's throttles it by its own <c>RefreshInterval</c>, on the system clock).
/// </summary>
internal sealed class ConfigurationManagerRetriever(IConfigurationManager<OpenIdConnectConfiguration> manager) : IKeySetRetriever
{
    private OpenIdConnectConfiguration? _applied;

    public string Address => (manager as BaseConfigurationManager)?.MetadataAddress is { Length: > 0 } address
        ? address
        : $"the ConfigurationManager option ({manager.GetType().Name})";

    public KeySourceKind Kind => KeySourceKind.ConfigurationManager;

    /// <remarks>Called by one fetch at a time (the key source's single flight).</remarks>
    public async Task<RetrievedKeys?> RetrieveAsync(CancellationToken cancellationToken)
    {
        if (_applied is not null)
        {
            // Not before the first answer: IdentityModel's ConfigurationManager honours its first
            // RequestRefresh at once and throttles every later one, so it is kept for a rotated key.
            manager.RequestRefresh();
        }

        var configuration = await manager.GetConfigurationAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new KeyFetchException(Address, null, "the configuration manager returned no configuration");
        if (ReferenceEquals(configuration, _applied))
        {
            return null;
        }

        var keys = new List<JsonWebKey>();
        if (configuration.JsonWebKeySet is { Keys.Count: > 0 } set)
        {
            keys.AddRange(set.Keys);
        }
        else
        {
            foreach (var key in configuration.SigningKeys)
            {
                // Keys that cannot verify service-account tokens (symmetric ones above all) are left out.
                if (StaticKeyRetriever.ToJsonWebKey(key, out _) is { } jwk)
                {
                    keys.Add(jwk);
                }
            }
        }

        _applied = configuration;
        return new RetrievedKeys(keys, string.IsNullOrEmpty(configuration.Issuer) ? null : configuration.Issuer, Address);
    }
}
