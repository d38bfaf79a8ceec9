// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Security.Authentication;

namespace KubeSaAuth.Backchannel;

/// <summary>The TLS handshake was refused by <see cref="CustomRootTrust"/>; the message says why.</summary>
internal sealed class BackchannelTrustException(string message, Exception? inner = null) : AuthenticationException(message, inner);
