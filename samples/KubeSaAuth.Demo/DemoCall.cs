// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;

namespace KubeSaAuth.Demo;

/// <summary>One call of the demo: who called what, what it should get, what it got, and why.</summary>
/// <param name="Caller">The caller, as a reader would name it.</param>
/// <param name="Endpoint">The path called.</param>
/// <param name="Expected">The status the call should get.</param>
/// <param name="Actual">The status it got.</param>
/// <param name="Detail">The reason (from <c>WWW-Authenticate</c>) or what the API answered.</param>
public sealed record DemoCall(string Caller, string Endpoint, HttpStatusCode Expected, HttpStatusCode Actual, string Detail)
{
    /// <summary>Whether the call got what it should.</summary>
    public bool Passed => Expected == Actual;
}
