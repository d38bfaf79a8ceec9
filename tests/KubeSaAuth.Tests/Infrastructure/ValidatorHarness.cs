// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using System.Text;
using KubeSaAuth.Keys;
using KubeSaAuth.Testing;
using KubeSaAuth.Tokens;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

// Not KubeSaAuth.Tests.Tokens: that would hide KubeSaAuth.Tokens from sibling test namespaces writing "Tokens.X".
namespace KubeSaAuth.Tests.Infrastructure;

/// <summary>
/// The token rules without a host: a <see cref="KubernetesTokenValidator"/> over a real
/// <see cref="SigningKeySource"/> whose JWKS comes from a stub backchannel, on a fake clock.
/// </summary>
internal sealed class ValidatorHarness : IDisposable
{
    public const string JwksAddress = "https://kubernetes.test/openid/v1/jwks";

    private readonly StubJwksHandler _handler;

    private ValidatorHarness(Func<string> jwks, KubernetesServiceAccountOptions options, FakeTimeProvider time)
    {
        Options = options;
        Time = time;
        _handler = new StubJwksHandler(jwks);
        var retriever = new KeySetRetriever(null, options.JwksUri, options.RequireHttpsMetadata);
        var client = new HttpClient(_handler);
        Keys = new SigningKeySource("test", retriever, () => client, options, time, NullLogger.Instance, null);
        Validator = new KubernetesTokenValidator(options, "test", Keys, time);
    }

    public KubernetesServiceAccountOptions Options { get; }

    public FakeTimeProvider Time { get; }

    public SigningKeySource Keys { get; }

    public KubernetesTokenValidator Validator { get; }

    /// <summary>How many times the JWKS was fetched.</summary>
    public int JwksRequests => _handler.Requests;

    /// <summary>A validator trusting the keys <paramref name="issuer"/> publishes (read at each fetch), at the issuer's clock.</summary>
    public static ValidatorHarness For(KubernetesTestIssuer issuer, Action<KubernetesServiceAccountOptions>? configure = null)
    {
        var options = new KubernetesServiceAccountOptions { Issuer = issuer.Issuer, JwksUri = JwksAddress };
        options.Audiences.Add("my-api");
        configure?.Invoke(options);
        return new ValidatorHarness(issuer.GetJwks, options, (FakeTimeProvider)issuer.TimeProvider);
    }

    /// <summary>A validator trusting a fixed JWKS document, with the clock at <paramref name="now"/>.</summary>
    public static ValidatorHarness For(string jwks, DateTimeOffset now, string issuer, string audience, Action<KubernetesServiceAccountOptions>? configure = null)
    {
        var options = new KubernetesServiceAccountOptions { Issuer = issuer, JwksUri = JwksAddress };
        options.Audiences.Add(audience);
        configure?.Invoke(options);
        return new ValidatorHarness(() => jwks, options, new FakeTimeProvider(now));
    }

    /// <summary>A stand-in issuer on a fake clock (not served: tokens and JWKS in memory).</summary>
    public static KubernetesTestIssuer NewIssuer(string issuer = "https://kubernetes.default.svc.cluster.local") =>
        new(issuer, new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero)));

    /// <summary>Fetches the keys now, as the first request or the warm-up would.</summary>
    public async Task<ValidatorHarness> WarmAsync()
    {
        Assert.True(await Keys.FetchNowAsync(CancellationToken.None), "the key fetch failed");
        return this;
    }

    public async Task<TokenValidationOutcome> ValidateAsync(string token) =>
        await Validator.ValidateAsync(token, CancellationToken.None);

    /// <summary>Validates and asserts a refusal for <paramref name="reason"/>; returns the failure.</summary>
    public async Task<TokenFailure> AssertRefusedAsync(string token, KubernetesTokenFailureReason reason)
    {
        var outcome = await ValidateAsync(token);
        Assert.Null(outcome.ServiceAccount);
        Assert.NotNull(outcome.Failure);
        Assert.True(outcome.Failure.Reason == reason, $"expected {reason}, got {outcome.Failure.Reason}: {outcome.Failure.Description}");
        return outcome.Failure;
    }

    /// <summary>Validates and asserts acceptance; returns the caller.</summary>
    public async Task<KubernetesServiceAccount> AssertAcceptedAsync(string token)
    {
        var outcome = await ValidateAsync(token);
        Assert.True(outcome.Failure is null, $"refused: {outcome.Failure?.Reason}: {outcome.Failure?.Description}");
        return outcome.ServiceAccount!;
    }

    public void Dispose() => Keys.Dispose();

    private sealed class StubJwksHandler(Func<string> jwks) : HttpMessageHandler
    {
        private int _requests;

        public int Requests => Volatile.Read(ref _requests);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _requests);
            var response = new HttpResponseMessage(HttpStatusCode.OK)
            {
                RequestMessage = request,
                Content = new StringContent(jwks(), Encoding.UTF8, "application/jwk-set+json"),
            };
            return Task.FromResult(response);
        }
    }
}
