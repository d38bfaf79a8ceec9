#!/usr/bin/env bash
# Copyright (c) KubeSaAuth contributors.
# Licensed under the MIT License. See LICENSE in the repository root.
#
# End-to-end HTTP benchmark and soak, on 127.0.0.1 only; every server gets a free port and everything
# stops by itself (a hard time limit wraps the run).
#
#   tests/KubeSaAuth.Benchmarks/e2e.sh [--duration 8] [--rounds 3] [--connections 32] [--threads 1] [--pool 10000]
#       the sample API (KubeSaAuth), plain JwtBearer and a do-nothing handler (the floor), each driven by wrk
#       with a repeated token, unique tokens and no token, in interleaved rounds; prints requests/s, p50/p99
#       and the ratios.
#   tests/KubeSaAuth.Benchmarks/e2e.sh --soak 300 [--period 60] [--rate 300]
#       mixed traffic (repeated, unique, hostile, no token) while the stand-in issuer rotates its key and goes
#       down and comes back every period; exits non-zero on any wrong decision, 5xx or unanswered request.
#
# Builds the solution (Release) unless --no-build; installs wrk with apt-get when it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

build=1
args=()
for a in "$@"; do
  if [ "$a" = "--no-build" ]; then build=0; else args+=("$a"); fi
done

soak=0
for a in "${args[@]+"${args[@]}"}"; do [ "$a" = "--soak" ] && soak=1; done

if [ "$soak" -eq 0 ] && ! command -v wrk >/dev/null 2>&1; then
  echo "e2e: installing wrk (apt-get)"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk >/dev/null
fi

if [ "$build" -eq 1 ]; then
  dotnet build KubeSaAuth.sln -c Release -v q -nologo >/dev/null
fi

bench=tests/KubeSaAuth.Benchmarks/bin/Release/net10.0/KubeSaAuth.Benchmarks.dll
sample=samples/KubeSaAuth.Sample.Api/bin/Release/net10.0/KubeSaAuth.Sample.Api.dll
for f in "$bench" "$sample"; do
  [ -f "$f" ] || { echo "e2e: $f is missing; build the solution (dotnet build KubeSaAuth.sln -c Release)" >&2; exit 2; }
done

# Bound the whole run: the soak's own length plus start-up, or 20 minutes for the benchmark.
limit=1200
if [ "$soak" -eq 1 ]; then
  seconds=60
  for ((i = 0; i < ${#args[@]}; i++)); do
    if [ "${args[$i]}" = "--soak" ] && [ $((i + 1)) -lt ${#args[@]} ]; then seconds=${args[$((i + 1))]}; fi
  done
  limit=$((seconds + 240))
  mode=()
else
  mode=(--e2e)
fi

exec timeout --kill-after=15s "${limit}s" dotnet "$bench" "${mode[@]+"${mode[@]}"}" "${args[@]+"${args[@]}"}" --sample "$sample"
