#!/usr/bin/env bash
# The test command (`npm test`): installs the real components the tests need, lints, typechecks
# (once), then runs every tap test on each Node.js line in HHP_NODE_LINES, and ends with one plain
# line "N passed, N failed" summed over all lines (tap's own summary is not a format CI tools read).
#
#   HHP_NODE_LINES   comma-separated lines; `system` is the Node on PATH, a number is a supported
#                    line fetched by scripts/node-runtime.sh from the npm registry (e.g. `24,22`).
#                    Default: system,24,22,26. `npm run test:quick` = system only.
#   extra arguments  go to tap (`npm test -- test/unit/config.test.ts`).
#
# Every line runs the same dist/ (built once, by the system Node) and the same node_modules: the
# project has no native modules, so nothing in them depends on the Node that loads them.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-test-deps.sh || exit 1
npm run build --silent || { echo "0 passed, 1 failed"; exit 1; }

echo "lint and format check (biome)"
npx biome ci --reporter=summary . || { echo "0 passed, 1 failed"; exit 1; }

echo "typecheck: src and tests"
if ! npx tsc -p tsconfig.json --noEmit || ! npx tsc -p test/tsconfig.json --noEmit; then
  echo "0 passed, 1 failed"
  exit 1
fi

# exits 0 when the running node's major is one of the `^N.` lines of package.json's engines.node
supported_js='const e = JSON.parse(require("fs").readFileSync("package.json", "utf8")).engines.node
const lines = [...e.matchAll(/\^(\d+)\./g)].map((m) => Number(m[1]))
process.exit(lines.includes(Number(process.versions.node.split(".")[0])) ? 0 : 1)'

out=$(mktemp)
trap 'rm -f "$out"' EXIT
IFS=',' read -r -a lines <<<"${HHP_NODE_LINES:-system,24,22,26}"
total_pass=0
total_fail=0
summary=()
ran=()
rc_all=0
for line in "${lines[@]}"; do
  line=${line// /}
  [[ -n $line ]] || continue
  bindir=
  if [[ $line != system ]]; then
    if ! bindir=$(bash scripts/node-runtime.sh "$line"); then
      echo "node $line: cannot get this Node line (see above)"
      summary+=("node $line: 0 passed, 1 failed (no runtime)")
      total_fail=$((total_fail + 1))
      rc_all=1
      continue
    fi
  fi
  # PATH with the line's node first: tap starts every test file with the node that runs tap, and
  # tests that spawn `node` or bin/hive-ha-proxy find the same one
  run_path=${bindir:+$bindir:}$PATH
  version=$(PATH=$run_path node --version)
  name="node $version ($line)"
  # a machine whose own Node is a pinned version runs it once
  if [[ " ${ran[*]} " == *" $version "* ]]; then
    echo "==== $name: the same Node as a line already run, not run again"
    continue
  fi
  ran+=("$version")
  echo "==== tap on $name"
  if ! PATH=$run_path node -e "$supported_js"; then
    echo "note: $name is not a supported line (package.json engines); its results count all the same"
  fi
  PATH=$run_path node_modules/.bin/tap "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  tally=$(grep -E '^# \{ total:' "$out" | tail -1)
  pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$tally")
  fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$tally")
  if [[ -z $tally ]]; then fail=1; fi
  # a crashed test file can leave tap's counts at zero failures while tap itself fails
  if [[ $rc -ne 0 && ${fail:-0} -eq 0 ]]; then fail=1; fi
  if [[ $rc -ne 0 ]]; then rc_all=1; fi
  summary+=("$name: ${pass:-0} passed, ${fail:-0} failed")
  total_pass=$((total_pass + ${pass:-0}))
  total_fail=$((total_fail + ${fail:-0}))
done

if ((${#summary[@]} == 0)); then
  echo "HHP_NODE_LINES='${HHP_NODE_LINES:-}' names no Node line (e.g. system,24,22,26)"
  echo "0 passed, 1 failed"
  exit 1
fi
printf '%s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed"
if ((total_fail > 0)); then rc_all=1; fi
exit "$rc_all"
