// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net.Sockets;
using System.Security.Authentication;

namespace KubeSaAuth.Backchannel;

/// <summary>
/// Says in plain words why a backchannel request failed — the certificate problem, DNS, refused connection,
/// timeout — from the exception chain that <see cref="HttpClient"/> wraps it in ("The SSL connection could
/// not be established, see inner exception.").
/// </summary>
internal static class BackchannelFailure
{
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case BackchannelTrustException trust:
                    return $"TLS: {trust.Message}";
                case AuthenticationException tls:
                    // .NET names the policy error and the chain status ("...errors in the certificate chain: UntrustedRoot").
                    return $"TLS: {tls.Message.TrimEnd('.')}";
                case SocketException socket:
                    return DescribeSocket(socket);
                case TimeoutException or TaskCanceledException:
                    return "no answer in time (timeout)";
            }
        }

        var request = exception as HttpRequestException;
        var innermost = exception;
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
        }

        var message = Clean(innermost.Message);
        return request is not null && request.HttpRequestError != HttpRequestError.Unknown
            ? $"{request.HttpRequestError}: {message}"
            : message;
    }

    private static string DescribeSocket(SocketException socket) => socket.SocketErrorCode switch
    {
        SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => $"DNS: the host name was not found ({Clean(socket.Message)})",
        SocketError.ConnectionRefused => "connection refused: nothing listens at that host and port (is the API server address and port right?)",
        SocketError.TimedOut => "the connection timed out (a firewall, or an address that does not answer?)",
        SocketError.NetworkUnreachable or SocketError.HostUnreachable => $"the host is unreachable ({socket.SocketErrorCode})",
        SocketError.ConnectionReset or SocketError.ConnectionAborted => $"the connection was closed by the server ({socket.SocketErrorCode})",
        _ => $"{socket.SocketErrorCode}: {Clean(socket.Message)}",
    };

    private static string Clean(string message)
    {
        var text = message.Replace("see inner exception.", string.Empty, StringComparison.OrdinalIgnoreCase)
            .Replace("See the inner exception for details.", string.Empty, StringComparison.OrdinalIgnoreCase)
            .Trim().TrimEnd(',', '.').Trim();
        return text.Length == 0 ? "request failed" : text;
    }
}
