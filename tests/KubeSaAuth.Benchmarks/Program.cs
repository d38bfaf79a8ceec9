// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using KubeSaAuth.Benchmarks;
using Perfolizer.Horology;

// Usage (from the repository root):
//   dotnet run -c Release --project tests/KubeSaAuth.Benchmarks                 full run (BenchmarkDotNet defaults, in process)
//   dotnet run -c Release --project tests/KubeSaAuth.Benchmarks -- --quick      every benchmark, short: under a minute
//   dotnet run -c Release --project tests/KubeSaAuth.Benchmarks -- --flood 20000  memory under N unique valid tokens
//   dotnet run -c Release --project tests/KubeSaAuth.Benchmarks -- --paired 61   JwtBearer and KubeSaAuth in alternating batches (robust ratios on a shared machine)
//   dotnet run -c Release --project tests/KubeSaAuth.Benchmarks -- --clusters 21  1/10/100 clusters in one scheme vs as many schemes, floor and JwtBearer beside
//   dotnet run -c Release --project tests/KubeSaAuth.Benchmarks -- --profile-miss  where a first-seen token's time goes, layer by layer
//   dotnet run -c Release --project tests/KubeSaAuth.Benchmarks -- --profile-hit   where a repeated token's request time goes
//   dotnet run -c Release --project tests/KubeSaAuth.Benchmarks -- --alloc      bytes allocated per cached request by the handler
//   tests/KubeSaAuth.Benchmarks/e2e.sh                                         over real HTTP with wrk: the sample API, JwtBearer, the floor (--e2e)
//   .ci/aot-check                                                              the Native AOT sample: one authenticated request, startup/RSS/size vs JIT (--aot)
//   dotnet run -c Release --project tests/KubeSaAuth.Benchmarks -- --view-scale 50000 200 [--streaming]   the cluster view: time to a complete view, RSS, bytes, pod-selector cost
//   tests/KubeSaAuth.Benchmarks/e2e.sh --soak 300                              mixed traffic while the issuer rotates keys and fails (--soak)
var arguments = args.ToList();
if (arguments.Contains("--serve"))
{
    return await KubeSaAuth.Benchmarks.EndToEnd.ComparisonServer.RunAsync(arguments);
}

if (arguments.Contains("--e2e"))
{
    return await KubeSaAuth.Benchmarks.EndToEnd.HttpBenchmark.RunAsync(arguments);
}

if (arguments.Contains("--aot"))
{
    return await KubeSaAuth.Benchmarks.EndToEnd.AotCheck.RunAsync(arguments);
}

if (arguments.Contains("--soak"))
{
    return await KubeSaAuth.Benchmarks.Soak.SoakRun.RunAsync(arguments);
}

var viewServeAt = arguments.IndexOf("--view-serve");
if (viewServeAt >= 0)
{
    return await ClusterViewScale.ServeAsync(int.Parse(arguments[viewServeAt + 1], CultureInfo.InvariantCulture), int.Parse(arguments[viewServeAt + 2], CultureInfo.InvariantCulture), arguments.Contains("--streaming"));
}

var viewScaleAt = arguments.IndexOf("--view-scale");
if (viewScaleAt >= 0)
{
    int Argument(int offset, int fallback) =>
        viewScaleAt + offset < arguments.Count && int.TryParse(arguments[viewScaleAt + offset], CultureInfo.InvariantCulture, out var v) ? v : fallback;
    return await ClusterViewScale.RunAsync(Argument(1, 50_000), Argument(2, 200), Argument(3, 31), arguments.Contains("--streaming"));
}

var floodAt = arguments.IndexOf("--flood");
if (floodAt >= 0)
{
    var count = floodAt + 1 < arguments.Count ? int.Parse(arguments[floodAt + 1], CultureInfo.InvariantCulture) : 20_000;
    await FloodMeasurement.RunAsync(count);
    return 0;
}

var pairedAt = arguments.IndexOf("--paired");
if (pairedAt >= 0)
{
    var rounds = pairedAt + 1 < arguments.Count && int.TryParse(arguments[pairedAt + 1], CultureInfo.InvariantCulture, out var n) ? n : 61;
    await PairedMeasurement.RunAsync(rounds);
    await AllocationMeasurement.RunAsync();
    return 0;
}

var clustersAt = arguments.IndexOf("--clusters");
if (clustersAt >= 0)
{
    var rounds = clustersAt + 1 < arguments.Count && int.TryParse(arguments[clustersAt + 1], CultureInfo.InvariantCulture, out var n) ? n : 21;
    await ClusterMeasurement.RunAsync(rounds);
    return 0;
}

if (arguments.Contains("--profile-miss"))
{
    await MissPathProfile.RunAsync();
    return 0;
}

if (arguments.Contains("--profile-hit"))
{
    await HitPathProfile.RunAsync();
    return 0;
}

if (arguments.Contains("--alloc"))
{
    await AllocationMeasurement.RunAsync();
    return 0;
}

var quick = arguments.Remove("--quick");
var job = quick
    ? Job.Default.WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(3).WithIterationTime(TimeInterval.FromMilliseconds(120))
    : Job.Default.WithWarmupCount(4).WithIterationCount(15).WithMaxRelativeError(0.05);
var config = ManualConfig.Create(DefaultConfig.Instance)
    .AddJob(job.WithToolchain(InProcessEmitToolchain.Instance).WithId(quick ? "Quick" : "Full"))
    .AddDiagnoser(MemoryDiagnoser.Default)
    .WithOptions(ConfigOptions.DisableOptimizationsValidator);
if (!quick)
{
    await AllocationMeasurement.RunAsync();
}

BenchmarkRunner.Run<AuthenticationBenchmarks>(config, [.. arguments]);
return 0;
