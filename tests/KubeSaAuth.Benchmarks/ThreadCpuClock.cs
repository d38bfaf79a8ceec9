// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics;
using System.Runtime.InteropServices;

namespace KubeSaAuth.Benchmarks;

/// <summary>
/// CPU time of the calling thread (Linux <c>CLOCK_THREAD_CPUTIME_ID</c>): on a machine whose cores are
/// shared, wall-clock time counts the time the thread waited for a core; this does not. Falls back to
/// the wall clock elsewhere.
/// </summary>
internal static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3;

    public static bool IsThreadCpuTime { get; } = OperatingSystem.IsLinux() && TryRead(out _);

    /// <summary>Nanoseconds of CPU time of this thread (or wall-clock ticks as nanoseconds).</summary>
    public static double NowNanoseconds()
    {
        if (IsThreadCpuTime && TryRead(out var ns))
        {
            return ns;
        }

        return Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency);
    }

    private static bool TryRead(out double nanoseconds)
    {
        try
        {
            if (ClockGetTime(ClockThreadCpuTimeId, out var spec) == 0)
            {
                nanoseconds = (spec.Seconds * 1_000_000_000.0) + spec.Nanoseconds;
                return true;
            }
        }
        catch (DllNotFoundException)
        {
        }
        catch (EntryPointNotFoundException)
        {
        }

        nanoseconds = 0;
        return false;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int ClockGetTime(int clockId, out TimeSpec spec);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
