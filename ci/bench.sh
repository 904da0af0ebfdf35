#!/usr/bin/env bash
# Runs relapse's benchmarks, keeps their output, and compares it with a
# saved baseline (benchstat from golang.org/x/perf: ratios per metric).
#
#   ci/bench.sh BENCHSTAT OUT_DIR BASELINE [go test -bench regexp]
#
# OUT_DIR/<UTC time>.txt is Go's benchmark format with the machine's facts
# as configuration lines; OUT_DIR/latest.txt points at it. Save a run as the
# new baseline with: cp OUT_DIR/latest.txt BASELINE
set -euo pipefail
benchstat=$1 out=$2 baseline=$3 pattern=${4:-.}
mkdir -p "$out"
file="$out/$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  # benchstat keeps "key: value" lines as the run's configuration.
  echo "relapse-commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo -dirty)"
  echo "kernel: $(uname -r)"
  echo "cores: $(nproc)"
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$file"
go test -count="${BENCH_COUNT:-1}" -p 1 -run '^$' -bench "$pattern" -benchtime 1x -timeout 60m ./suites/bench/ | tee -a "$file"
ln -sfn "$(basename "$file")" "$out/latest.txt"
echo "bench: results in $file"
if [ -f "$baseline" ]; then
  echo "bench: compared with $baseline (ratios are new/old; one run each has no interval: BENCH_COUNT=5 for one)"
  "$benchstat" -ignore relapse-commit,load "old=$baseline" "new=$file"
else
  echo "bench: no baseline at $baseline; to keep this run as one: cp $file $baseline"
fi
if [ -f "$baseline" ]; then
  # benchstat needs several runs per side for its "vs base" column; the
  # plain ratio of each metric is printed here whatever the count.
  echo
  echo "bench: ratios new/old (median of each side's runs)"
  awk '
    FNR == 1 { side++ }
    /^Benchmark/ {
      for (i = 3; i < NF; i += 2) { key = $1 " " $(i + 1); v[side, key, ++n[side, key]] = $i; keys[key] = 1 }
    }
    function median(s, k,   m, i, j, t, a) {
      m = n[s, k]; if (m == 0) return ""
      for (i = 1; i <= m; i++) a[i] = v[s, k, i]
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return a[int((m + 1) / 2)]
    }
    END {
      printf "%-44s %-28s %12s %12s %8s\n", "benchmark", "metric", "old", "new", "new/old"
      for (k in keys) {
        split(k, parts, " "); o = median(1, k); w = median(2, k)
        r = (o != "" && w != "" && o + 0 != 0) ? sprintf("%.2f", w / o) : "-"
        printf "%-44s %-28s %12s %12s %8s\n", parts[1], parts[2], o == "" ? "-" : o, w == "" ? "-" : w, r
      }
    }' "$baseline" "$file" | { read -r header; echo "$header"; sort; }
fi
