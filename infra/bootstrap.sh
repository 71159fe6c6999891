#!/usr/bin/env bash
# Prepare this checkout on a fresh machine, for one purpose at a time:
#
#   infra/bootstrap.sh run     `make run`: a virtualenv with requirements-run.lock (the API's
#                              packages and the local gateway's: ~34, ~150 MB)
#   infra/bootstrap.sh deploy  requirements-dev.lock (tests, linters, deploy tooling) and the
#                              npm deployment tooling
#   infra/bootstrap.sh test    the same, and Debian's chromium for the browser tests (default)
#
# One .venv for every purpose: the run set is a subset of the dev set at the same versions
# (`make lock-check`), so `test` after `run` only adds packages and `run` after `test`
# installs nothing. A stamp per set (.venv/.lock-<set>.sha256, the lock's pins hashed)
# makes a repeated call instant. Every step says what it does, and long ones say so again
# every few seconds. PostgreSQL, PgBouncer and OpenSSL are installed by
# `python -m infra.local.neon_local` when it first runs.
set -euo pipefail
cd "$(dirname "$0")/.."

PURPOSE=${1:-test}
case "$PURPOSE" in
  run) PYTHON_SET=run ;;
  test | deploy) PYTHON_SET=dev ;;
  *) echo "usage: infra/bootstrap.sh [run|test|deploy]" >&2; exit 2 ;;
esac
HEARTBEAT=5 # seconds between "still working" lines: nothing stays silent for long

say() { printf 'bootstrap: %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }

# Run a command with its output in a log (LAST_LOG, removed at exit); every HEARTBEAT
# seconds say how long it has run and what `progress LOG` makes of the log. On failure
# show the log's tail and keep it.
LOGS=()
trap 'rm -f "${LOGS[@]}"' EXIT
run_logged() {
  local what=$1 progress=$2 log started=$SECONDS pid
  shift 2
  log=$(mktemp)
  LAST_LOG=$log
  "$@" >"$log" 2>&1 &
  pid=$!
  while ! wait_for "$pid" "$HEARTBEAT"; do
    say "  $what, $((SECONDS - started)) s: $("$progress" "$log")"
  done
  if ! wait "$pid"; then
    tail -n 25 "$log" >&2
    say "$what failed (its whole output: $log)"
    exit 1
  fi
  LOGS+=("$log")
}

# Whether process $1 ended within $2 seconds (checked each 0.2 s).
wait_for() {
  local ticks=$(($2 * 5))
  while ((ticks-- > 0)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.2
  done
  ! kill -0 "$1" 2>/dev/null
}

last_line() { tail -n 1 "$1" | cut -c1-100 | grep . || echo "(no output yet)"; }

apt_updated=""
apt_install() {
  if ! is_root; then
    say "missing system packages; run: sudo apt-get install -y $*"
    exit 1
  fi
  if [ -z "$apt_updated" ]; then
    say "apt-get update (to install $*)"
    run_logged "apt-get update" last_line apt-get update
    apt_updated=1
  fi
  say "apt-get install $*"
  run_logged "apt-get install" last_line \
    env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

usable() { "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }

# Lambda runs Python 3.12: prefer it (also from pyenv), then any Python 3.11+.
pick_python() {
  local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}" candidate
  for candidate in python3.12 "$pyenv_root"/versions/3.12*/bin/python3.12 python3.13 python3; do
    if usable "$candidate"; then echo "$candidate"; return; fi
  done
  apt_install python3 python3-venv
  echo python3
}

make_venv() {
  [ -x .venv/bin/python ] && return
  local python
  python=$(pick_python)
  # Debian's python3 lacks ensurepip (and so venv's pip) until python3-venv is installed.
  "$python" -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
  say "creating .venv with $($python --version) (and its pip)"
  run_logged "python -m venv" last_line "$python" -m venv .venv
}

# A lock's pins, one name==version a line, sorted (markers and hashes left out).
pins() { sed -n 's/^\([A-Za-z0-9][A-Za-z0-9._-]*==[^ ;\\]*\).*/\1/p' "$1" | sort -u; }
# What a set's stamp holds: its pins hashed, so a lock whose header alone changed
# (its inputs digest) installs nothing.
pins_digest() { pins "requirements-$1.lock" | sha256sum | cut -d' ' -f1; }
stamped() { [ "$(cat ".venv/.lock-$1.sha256" 2>/dev/null)" = "$(pins_digest "$1")" ]; }

# Installed already: this set, or the dev set when it holds every pin of this one.
installed() {
  stamped "$1" && return 0
  [ "$1" != dev ] && stamped dev &&
    [ -z "$(comm -23 <(pins "requirements-$1.lock") <(pins requirements-dev.lock))" ]
}

# pip prints a line per package it fetches (or has already), then nothing while it unpacks
# and compiles.
pip_progress() {
  local total
  total=$(pins "$LOCK" | wc -l)
  if grep -q '^Installing collected packages' "$1"; then
    echo "unpacking and compiling" \
      "$(sed -n 's/^Installing collected packages: //p' "$1" | tr ',' '\n' | wc -l) packages"
  else
    echo "$(grep -c -E '^(Collecting|Requirement already satisfied)' "$1")/$total packages ready" \
      "(last: $(grep '^Collecting' "$1" | tail -n 1 | cut -d' ' -f2))"
  fi
}

# Exactly what the lock pins, each file checked against its recorded hash
# (infra/packaging/locks.py makes the lock; `make lock-check` says when requirements*.txt
# moved on without it). --no-deps: the lock is the whole set already.
install_python_packages() {
  local set=$1 started=$SECONDS
  LOCK=requirements-$set.lock
  installed "$set" && return
  say "installing the $set set: $(pins "$LOCK" | wc -l) Python packages from $LOCK"
  run_logged "pip" pip_progress .venv/bin/python -m pip install --disable-pip-version-check \
    --progress-bar off --no-deps --require-hashes -r "$LOCK"
  pins_digest "$set" >".venv/.lock-$set.sha256"
  local added
  added=$(sed -n 's/^Successfully installed //p' "$LAST_LOG" | wc -w)
  say "installed the $set set in $((SECONDS - started)) s ($added packages added)"
}

install_node_packages() {
  [ -f package-lock.json ] || return 0
  local stamp=node_modules/.lock.sha256 want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
  command -v npm >/dev/null || apt_install nodejs npm
  say "installing npm packages from package-lock.json (deployment tooling: osls)"
  run_logged "npm ci" last_line npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
}

# The browser tests (tests/browser) drive Debian's headless Chromium: browsers cannot be
# downloaded, so it comes from apt. Without root they are skipped, saying why.
install_browser() {
  command -v chromium >/dev/null && return
  if ! is_root; then
    say "chromium missing: the browser tests will be skipped (sudo apt-get install -y chromium)"
    return
  fi
  say "installing chromium (browser tests)"
  apt_install chromium
}

make_venv
install_python_packages "$PYTHON_SET"
if [ "$PURPOSE" != run ]; then install_node_packages; fi
if [ "$PURPOSE" = test ]; then install_browser; fi
