// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KubeSaAuth.Sample.Client;

/// <summary>Calls the sample API's <c>/whoami</c> on an interval and logs who the API says we are.</summary>
internal sealed partial class WhoAmIWorker(IHttpClientFactory clients, IConfiguration configuration, ILogger<WhoAmIWorker> logger) : BackgroundService
{
    public const string ClientName = "sample-api";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = configuration.GetValue("SampleApi:Interval", TimeSpan.FromSeconds(30));
        using var timer = new PeriodicTimer(interval);
        do
        {
            try
            {
                var client = clients.CreateClient(ClientName);
                using var response = await client.GetAsync(new Uri("/whoami", UriKind.Relative), stoppingToken);
                var body = await response.Content.ReadAsStringAsync(stoppingToken);
                var challenge = response.Headers.WwwAuthenticate.ToString();
                LogAnswer(logger, (int)response.StatusCode, challenge, body);
            }
            catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or TaskCanceledException && !stoppingToken.IsCancellationRequested)
            {
                // InvalidOperationException: the token file is missing or expired (the message says which).
                LogCallFailed(logger, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "GET /whoami -> {Status} {Challenge} {Body}")]
    private static partial void LogAnswer(ILogger logger, int status, string challenge, string body);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "GET /whoami failed: {Error}")]
    private static partial void LogCallFailed(ILogger logger, string error);
}
