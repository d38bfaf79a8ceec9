// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;

namespace KubeSaAuth.Sample.Api.Controllers;

/// <summary>Reports, for callers of namespace <c>my-namespace</c> only (policy by name, no registration).</summary>
[ApiController]
[Route("reports")]
[Authorize(Policy = "namespace:my-namespace")]
public sealed class ReportsController : ControllerBase
{
    /// <summary>Lists the reports.</summary>
    /// <returns>The reports and who asked.</returns>
    [HttpGet]
    public IActionResult Get()
    {
        var caller = User.GetKubernetesServiceAccount()!;
        return Ok(new
        {
            reports = new[] { "daily-usage", "weekly-errors" },
            requestedBy = caller.Username,
        });
    }
}
