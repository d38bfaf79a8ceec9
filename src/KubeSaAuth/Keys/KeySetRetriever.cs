// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net.Http.Headers;
using KubeSaAuth.Backchannel;
using System.Text;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace KubeSaAuth.Keys;

/// <summary>
/// Fetches the discovery document and the JWKS the way the API server serves them. Uses IdentityModel's
/// <see cref="OpenIdConnectConfiguration"/> and <see cref="JsonWebKeySet"/> parsers; never follows a
/// URL that a token names. <paramref name="tokenPath"/> is the file whose token the backchannel sends (if any),
/// named when the server refuses it.
/// </summary>
internal sealed class KeySetRetriever(string? metadataAddress, string? jwksUri, bool requireHttps, string? tokenPath = null)
{
    // Discovery and JWKS are a few KiB; a larger answer is a misconfiguration or an attack.
    internal const int MaxDocumentBytes = 1024 * 1024;

    // k8s pkg/routes/openidmetadata.go: the JWKS route produces only application/jwk-set+json and its
    // router answers 406 to an Accept header that excludes it; discovery is application/json.
    internal const string JwksMediaType = "application/jwk-set+json";
    internal const string DiscoveryMediaType = "application/json";

    public string? MetadataAddress { get; } = metadataAddress;

    public string? JwksUri { get; } = jwksUri;

    /// <summary>The token file the backchannel sends (BackchannelTokenPath or the Pod's); <see langword="null"/> when none.</summary>
    public string? TokenPath { get; } = tokenPath;

    public async Task<RetrievedKeys> RetrieveAsync(HttpClient client, CancellationToken cancellationToken)
    {
        string? issuer = null;
        var jwksAddress = JwksUri;
        if (MetadataAddress is not null)
        {
            var json = await GetDocumentAsync(client, MetadataAddress, DiscoveryMediaType, cancellationToken).ConfigureAwait(false);
            OpenIdConnectConfiguration discovery;
            try
            {
                discovery = OpenIdConnectConfiguration.Create(json);
            }
            catch (Exception ex) when (ex is ArgumentException or System.Text.Json.JsonException)
            {
                throw new KeyFetchException(MetadataAddress, 200, "the discovery document is not valid JSON", ex);
            }

            issuer = string.IsNullOrEmpty(discovery.Issuer) ? null : discovery.Issuer;
            if (jwksAddress is null)
            {
                if (string.IsNullOrEmpty(discovery.JwksUri))
                {
                    throw new KeyFetchException(MetadataAddress, 200, "the discovery document has no 'jwks_uri'; set the JwksUri option");
                }

                jwksAddress = discovery.JwksUri;
                if (!Uri.TryCreate(jwksAddress, UriKind.Absolute, out var uri) || (requireHttps && uri.Scheme != Uri.UriSchemeHttps))
                {
                    throw new KeyFetchException(MetadataAddress, 200, $"the discovery document's 'jwks_uri' ('{jwksAddress}') is not an absolute {(requireHttps ? "HTTPS " : string.Empty)}URL; set the JwksUri option");
                }
            }
        }

        if (jwksAddress is null)
        {
            throw new InvalidOperationException("Neither a discovery address nor a JWKS address is configured.");
        }

        var jwksJson = await GetDocumentAsync(client, jwksAddress, JwksMediaType, cancellationToken).ConfigureAwait(false);
        JsonWebKeySet set;
        try
        {
            set = new JsonWebKeySet(jwksJson);
        }
        catch (Exception ex) when (ex is ArgumentException or System.Text.Json.JsonException)
        {
            throw new KeyFetchException(jwksAddress, 200, "the JWKS is not a valid JSON Web Key Set", ex);
        }

        return new RetrievedKeys([.. set.Keys], issuer, jwksAddress);
    }

    // The API server's discovery routes want a token of a service account bound to
    // system:service-account-issuer-discovery (RBAC); say so rather than leave a bare status.
    private string Refusal(int status, string? reason, bool sentToken)
    {
        if (status == 401 && sentToken && TokenPath is not null)
        {
            // The token was sent and refused: the option is set, so "set BackchannelTokenPath" would not help.
            // The usual cause is a `kubectl create token` output that has run out (1 h by default).
            return $"the token read from {TokenPath} was refused (401); it may have expired: `kubectl create token` tokens last 1 h unless `--duration` is given";
        }

        var hint = status switch
        {
            401 when TokenPath is not null => " (no token was sent: the token file goes only to the API server's origin; set JwksUri to an address there)",
            401 => " (the server wants a bearer token: set BackchannelTokenPath, e.g. to the output of kubectl create token)",
            403 => " (the token's service account may not read it: bind the ClusterRole system:service-account-issuer-discovery)",
            _ => string.Empty,
        };
        return $"the server answered {status} {reason}{hint}";
    }

    private async Task<string> GetDocumentAsync(HttpClient client, string address, string mediaType, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, address);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(mediaType));
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new KeyFetchException(address, null, BackchannelFailure.Describe(ex), ex);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new KeyFetchException(address, (int)response.StatusCode, Refusal((int)response.StatusCode, response.ReasonPhrase, request.Headers.Authorization is not null));
            }

            if (response.Content.Headers.ContentLength > MaxDocumentBytes)
            {
                throw new KeyFetchException(address, (int)response.StatusCode, $"the document is larger than {MaxDocumentBytes} bytes");
            }

            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var buffer = new MemoryStream();
                var chunk = new byte[16 * 1024];
                int read;
                while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    if (buffer.Length + read > MaxDocumentBytes)
                    {
                        throw new KeyFetchException(address, (int)response.StatusCode, $"the document is larger than {MaxDocumentBytes} bytes");
                    }

                    buffer.Write(chunk, 0, read);
                }

                return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
            }
        }
    }
}
