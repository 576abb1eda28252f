# The preamble the command-line test scripts of tests/tools/ share; sourced, not run:
#   source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
# It makes $work, a scratch directory removed when the script exits, and defines the checks,
# which count passes and failures; `finish` prints the closing line CTest and CI read
# ("N passed, N failed") and exits 1 if any check failed.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passes=0

ok() { passes=$((passes + 1)); echo "ok: $1"; }
not_ok() { failures=$((failures + 1)); echo "FAILED: $1"; }
check() {  # check "description" command...
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}
expect_exit() {  # expect_exit CODE "description" command...: its stdout, stderr in $work/out, err
  local code=$1 what=$2
  shift 2
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [[ $got == "$code" ]]; then ok "$what (exit $got)"; else
    not_ok "$what: exit $got, expected $code"; sed 's/^/  | /' "$work/err" | head -20
  fi
}
finish() {
  echo "$passes passed, $failures failed"
  exit $((failures > 0))
}
