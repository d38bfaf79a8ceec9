// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Keys;

/// <summary>A failed fetch: the address and, when the server answered, its status code.</summary>
internal sealed class KeyFetchException(string address, int? statusCode, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public string Address { get; } = address;

    public int? StatusCode { get; } = statusCode;
}
