// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Net;
using KubeSaAuth.Demo;

namespace KubeSaAuth.Tests.EndToEnd;

public sealed class DemoRunnerTests
{
    [Fact]
    public async Task Demo_runs_the_whole_job_and_every_call_returns_what_it_should()
    {
        using var transcript = new StringWriter();

        var result = await DemoRunner.RunAsync(transcript);

        var text = transcript.ToString();
        Assert.True(result.Succeeded, text);
        Assert.Contains(result.Calls, c => c.Actual == HttpStatusCode.Forbidden);
        Assert.Contains(result.Calls, c => c.Caller.StartsWith("legacy", StringComparison.Ordinal) && c.Detail.Contains("AcceptLegacyTokens", StringComparison.Ordinal));
        Assert.Contains(result.Calls, c => c.Caller.StartsWith("tampered", StringComparison.Ordinal) && c.Detail.Contains("signature", StringComparison.Ordinal));
        Assert.Contains(result.Calls, c => c.Caller.StartsWith("rotated key", StringComparison.Ordinal) && c.Actual == HttpStatusCode.OK);
        Assert.Contains("All ", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Demo_result_fails_when_any_call_got_the_wrong_status()
    {
        var result = new DemoResult([
            new DemoCall("a", "/whoami", HttpStatusCode.OK, HttpStatusCode.OK, string.Empty),
            new DemoCall("b", "/admin", HttpStatusCode.Forbidden, HttpStatusCode.OK, string.Empty),
        ]);

        Assert.False(result.Succeeded);
    }
}
