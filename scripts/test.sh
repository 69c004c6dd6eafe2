#!/usr/bin/env bash
# The test command (`npm test`): installs the real components the tests need, lints, typechecks, runs
# every tap test, and ends with one plain line "N passed, N failed" (tap's own summary is not a
# format CI tools read).
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

out=$(mktemp)
trap 'rm -f "$out"' EXIT
npx tap "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
line=$(grep -E '^# \{ total:' "$out" | tail -1)
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$line")
fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$line")
if [[ -z $line ]]; then fail=1; fi
# a crashed test file can leave tap's counts at zero failures while tap itself fails
if [[ $rc -ne 0 && ${fail:-0} -eq 0 ]]; then fail=1; fi
echo "${pass:-0} passed, ${fail:-0} failed"
exit "$rc"
