// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using KubeSaAuth.TokenReview;
using KubeSaAuth.Tokens;

namespace KubeSaAuth.Tool;

/// <summary><c>kubesa inspect &lt;token&gt; [--issuer URL]... [--metadata URL] [--jwks FILE|URL] [--cacert FILE] [--token-file FILE] [--audience A]... [--now TIME] [--accept-legacy] [--allow-http]</c>.</summary>
internal static class InspectCommand
{
    public const int Accepted = 0;
    public const int Refused = 1;
    public const int UsageError = 2;

    public const string Usage = """
        Usage: kubesa inspect <token | @file | -> [options]

        Decodes a Kubernetes service-account token and explains, rule by rule, whether KubeSaAuth
        would accept it. The token is never printed.

          <token>              the token; @path reads it from a file; - reads it from standard input
          --issuer URL         the issuer the service expects (Issuer option); discovery is fetched
                               from URL/.well-known/openid-configuration unless --metadata or --jwks.
                               Repeatable (or a comma list) for several clusters or an issuer
                               migration: the token is judged against the one its iss names
          --metadata URL       the discovery document (MetadataAddress option)
          --jwks FILE|URL      the JWKS: a file (kubectl get --raw /openid/v1/jwks > jwks.json) or a URL
          --cacert FILE        trust only this PEM bundle (the cluster CA) for discovery and JWKS
                               (BackchannelCaCertificatePath option)
          --token-file FILE    send FILE's content as a bearer token to the issuer's origin
                               (BackchannelTokenPath option; e.g. the output of kubectl create token)
          --audience A         an audience the service accepts (repeatable); without it, not checked
          --now TIME           judge at TIME (unix seconds or ISO 8601) instead of now
          --accept-legacy      the service sets AcceptLegacyTokens
          --allow-http         allow plain-HTTP discovery and JWKS (RequireHttpsMetadata = false)

        Exit code: 0 accepted, 1 refused, 2 usage or input error.

        Also: kubesa dev-issuer [--port N]   a stand-in cluster issuer on 127.0.0.1 that mints tokens
                                             for trying an app by hand (kubesa dev-issuer --help)
        """;

    public static async Task<int> RunAsync(string[] args, TextReader input, TextWriter output, TextWriter error, CancellationToken cancellationToken, HttpMessageHandler? handler = null)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            await output.WriteLineAsync(Usage).ConfigureAwait(false);
            return args.Length == 0 ? UsageError : Accepted;
        }

        if (args[0] != "inspect")
        {
            await error.WriteLineAsync($"kubesa: unknown command '{args[0]}'.\n\n{Usage}").ConfigureAwait(false);
            return UsageError;
        }

        string? tokenArgument = null;
        string? metadata = null, jwks = null, caCertificate = null, tokenFile = null;
        var issuers = new List<string>();
        DateTimeOffset? now = null;
        bool acceptLegacy = false, allowHttp = false;
        var audiences = new List<string>();
        for (var i = 1; i < args.Length; i++)
        {
            var arg = args[i];
            string? Value()
            {
                return i + 1 < args.Length ? args[++i] : null;
            }

            switch (arg)
            {
                case "--issuer":
                    if (Value() is not { } issuerList)
                    {
                        return await FailUsageAsync(error, "--issuer needs a value").ConfigureAwait(false);
                    }

                    issuers.AddRange(issuerList.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Where(i => !issuers.Contains(i)));
                    break;
                case "--metadata":
                    metadata = Value();
                    break;
                case "--jwks":
                    jwks = Value();
                    break;
                case "--cacert":
                    caCertificate = Value();
                    if (caCertificate is null || !File.Exists(caCertificate))
                    {
                        return await FailUsageAsync(error, $"--cacert needs a PEM file that exists{(caCertificate is null ? string.Empty : $" ('{caCertificate}' does not)")}").ConfigureAwait(false);
                    }

                    break;
                case "--token-file":
                    tokenFile = Value();
                    if (tokenFile is null || !File.Exists(tokenFile))
                    {
                        return await FailUsageAsync(error, $"--token-file needs a file that exists{(tokenFile is null ? string.Empty : $" ('{tokenFile}' does not)")}").ConfigureAwait(false);
                    }

                    break;
                case "--audience":
                    if (Value() is { } audience)
                    {
                        audiences.Add(audience);
                    }
                    else
                    {
                        return await FailUsageAsync(error, "--audience needs a value").ConfigureAwait(false);
                    }

                    break;
                case "--now":
                    now = ParseTime(Value());
                    if (now is null)
                    {
                        return await FailUsageAsync(error, "--now needs unix seconds or an ISO 8601 time").ConfigureAwait(false);
                    }

                    break;
                case "--accept-legacy":
                    acceptLegacy = true;
                    break;
                case "--allow-http":
                    allowHttp = true;
                    break;
                default:
                    if (arg.StartsWith("--", StringComparison.Ordinal) || tokenArgument is not null)
                    {
                        return await FailUsageAsync(error, $"unexpected argument '{Shorten(arg)}'").ConfigureAwait(false);
                    }

                    tokenArgument = arg;
                    break;
            }
        }

        if (tokenArgument is null)
        {
            return await FailUsageAsync(error, "no token given").ConfigureAwait(false);
        }

        string token;
        string? jwksJson = null;
        try
        {
            token = (tokenArgument switch
            {
                "-" => await input.ReadToEndAsync(cancellationToken).ConfigureAwait(false),
                _ when tokenArgument.StartsWith('@') => await File.ReadAllTextAsync(tokenArgument[1..], cancellationToken).ConfigureAwait(false),
                _ => tokenArgument,
            }).Trim();
            if (jwks is not null && !Uri.TryCreate(jwks, UriKind.Absolute, out var jwksUri) is var notUrl && (notUrl || jwksUri!.IsFile))
            {
                jwksJson = await File.ReadAllTextAsync(jwks, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (IOException ex)
        {
            return await FailUsageAsync(error, ex.Message).ConfigureAwait(false);
        }
        catch (UnauthorizedAccessException ex)
        {
            return await FailUsageAsync(error, ex.Message).ConfigureAwait(false);
        }

        if (token.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            token = token[7..].Trim();
        }

        var settings = new InspectSettings
        {
            Issuers = issuers,
            MetadataAddress = metadata,
            JwksJson = jwksJson,
            CaCertificatePath = caCertificate,
            TokenPath = tokenFile,
            JwksUri = jwksJson is null ? jwks : null,
            Audiences = audiences,
            Now = now,
            AcceptLegacyTokens = acceptLegacy,
            AllowHttp = allowHttp,
            Handler = handler,
        };
        var report = await TokenInspector.InspectAsync(token, settings, cancellationToken).ConfigureAwait(false);
        await WriteAsync(report, output).ConfigureAwait(false);
        return report.Accepted ? Accepted : Refused;
    }

    public static async Task WriteAsync(InspectReport report, TextWriter output)
    {
        var w = new StringWriter(CultureInfo.InvariantCulture);
        if (report.Header is { } header && report.Payload is { } payload)
        {
            var k = payload.Kubernetes;
            w.WriteLine("Token");
            Line(w, "kind", k is null ? "legacy (secret-based)" : "bound (projected)");
            Line(w, "alg / kid", $"{header.Algorithm} / {header.KeyId ?? "(none)"}");
            Line(w, "iss", payload.Issuer);
            Line(w, "sub", payload.Subject);
            Line(w, "aud", payload.Audiences is null ? null : string.Join(", ", payload.Audiences));
            Line(w, "namespace", k?.Namespace ?? payload.LegacyNamespace);
            Line(w, "service account", $"{k?.ServiceAccount?.Name ?? payload.LegacyServiceAccountName ?? "(none)"} (uid {k?.ServiceAccount?.Uid ?? payload.LegacyServiceAccountUid ?? "(none)"})");
            if (k?.Pod is { } pod)
            {
                Line(w, "pod", $"{pod.Name} (uid {pod.Uid})");
            }

            if (k?.Node is { } node)
            {
                Line(w, "node", $"{node.Name} (uid {node.Uid})");
            }

            if (k?.Secret is { } secret || payload.LegacySecretName is not null)
            {
                Line(w, "secret", k?.Secret?.Name ?? payload.LegacySecretName);
            }

            Line(w, "issued at", Time(payload.IssuedAt));
            Line(w, "not before", Time(payload.NotBefore));
            Line(w, "expires", Time(payload.ExpiresAt));
            if (k?.WarnAfter is { } warnAfter)
            {
                Line(w, "warnafter", Time(warnAfter));
            }

            Line(w, "jti", payload.TokenId);
            w.WriteLine();
        }

        w.WriteLine("Checked against");
        if (report.Issuer is not null)
        {
            Line(w, "issuer", report.Issuer);
        }

        Line(w, "keys", report.KeyIds.Count > 0 ? $"{report.KeySource}: {report.KeyIds.Count} key(s), kids {string.Join(", ", report.KeyIds)}" : report.KeySource);
        if (report.KeyError is not null)
        {
            Line(w, "key error", report.KeyError);
        }

        Line(w, "time", report.Now.ToString("u", CultureInfo.InvariantCulture));
        w.WriteLine();
        w.WriteLine("Rules");
        foreach (var rule in report.Rules)
        {
            var mark = rule.Status switch
            {
                RuleStatus.Pass => "pass",
                RuleStatus.Fail => "FAIL",
                RuleStatus.Skipped => "skip",
                _ => "----",
            };
            w.WriteLine($"  [{mark}] {rule.Rule,-21} {(rule.Reason is { } reason ? $"{reason}: " : string.Empty)}{rule.Detail}");
        }

        foreach (var note in report.Notes)
        {
            w.WriteLine($"  note: {note}");
        }

        w.WriteLine();
        // No keys: the cause itself (the address that failed, and why) rather than the handler's "retry shortly".
        w.WriteLine(report.Verdict is { } verdict
            ? $"Verdict: REFUSED ({verdict.Reason}): {(verdict.Reason == KubernetesTokenFailureReason.KeysUnavailable && report.KeyFailure is { } keyFailure ? keyFailure : verdict.LogDescription)}"
            : "Verdict: ACCEPTED" + (report.Rules.Any(r => r.Status == RuleStatus.Skipped) ? " (rules marked skip were not checked)" : string.Empty));
        await output.WriteAsync(w.ToString()).ConfigureAwait(false);
    }

    private static void Line(StringWriter w, string name, string? value) => w.WriteLine($"  {name,-16} {value ?? "(none)"}");

    private static string? Time(long? seconds) =>
        seconds is { } s and >= 0 and <= 253402300799 ? $"{DateTimeOffset.FromUnixTimeSeconds(s):u} ({s})" : seconds?.ToString(CultureInfo.InvariantCulture);

    private static DateTimeOffset? ParseTime(string? value)
    {
        if (value is null)
        {
            return null;
        }

        if (long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) && seconds is >= 0 and <= 253402300799)
        {
            return DateTimeOffset.FromUnixTimeSeconds(seconds);
        }

        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time : null;
    }

    private static async Task<int> FailUsageAsync(TextWriter error, string message)
    {
        await error.WriteLineAsync($"kubesa: {message.TrimEnd('.')}.\n\n{Usage}").ConfigureAwait(false);
        return UsageError;
    }

    private static string Shorten(string value) => KubernetesTokenValidator.Shorten(value, 40);
}
