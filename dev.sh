#!/usr/bin/env bash
# Runway's two commands for a newcomer:
#   ./dev.sh start   install what is missing, build, serve http://127.0.0.1:3000 on SQLite with the demo plan
#   ./dev.sh test    install what is missing, run every test: unit, integration (SQLite and PostgreSQL), browser
set -euo pipefail
cd "$(dirname "$0")"
ROOT="$PWD"
TOOLS="$ROOT/.tools"
export PATH="$TOOLS/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

CARGO_LEPTOS_VERSION=0.3.5   # newer releases need rustc 1.96+
WASM_BINDGEN_VERSION=0.2.130 # must equal the wasm-bindgen pin in Cargo.toml
BINARYEN_VERSION=132         # Debian's binaryen 108 produces WASM that fails to hydrate

say() { printf '\033[1m==> [%s] %s\033[0m\n' "$(date +%H:%M:%S)" "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_build_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if ! cargo leptos --version >/dev/null 2>&1; then
    say "installing cargo-leptos $CARGO_LEPTOS_VERSION (compiles from source: 12-25 minutes, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 3 minutes, once)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
  if ! wasm-opt --version 2>/dev/null | grep -q "version $BINARYEN_VERSION"; then
    say "installing wasm-opt (binaryen@$BINARYEN_VERSION from npm) into .tools/"
    npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "binaryen@$BINARYEN_VERSION"
  fi
}

build() {
  say "building the server and the browser bundle (release)"
  cargo leptos build --release --split --precompress
}

install_browser() {
  if ! [ -x /usr/bin/chromium ]; then
    say "installing Chromium from Debian's packages"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null \
      || { as_root apt-get update >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null; }
  fi
  # Again whenever package-lock.json changed since the last install.
  if ! [ -f end2end/node_modules/.package-lock.json ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    say "installing the browser tests' packages (playwright-core, OpenFeature SDK)"
    (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Tests create and drop their own databases on this server.
export RUNWAY_TEST_POSTGRES_URL="${RUNWAY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

ensure_postgres() {
  if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if command -v pg_ctlcluster >/dev/null; then
      say "starting the local PostgreSQL cluster"
      as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
  fi
}

# The repository must stand alone: a user's clone has no ../shared beside it. Code that
# reaches out of the checkout for a file fails here with the place to fix.
check_self_contained() {
  local hits
  hits=$(git ls-files -z -- ':!README.md' ':!examples/**' ':!end2end/fixtures/**' \
    | xargs -0 grep -nIE '(\.\./)+shared/' 2>/dev/null || true)
  if [ -n "$hits" ]; then
    printf 'These lines read files outside the repository (a clone has no ../shared);\n' >&2
    printf 'copy what they need into the project (examples/, end2end/fixtures/) and point them there:\n%s\n' "$hits" >&2
    exit 1
  fi
}

# Where this checkout does have a ../shared beside it, the tests run with that folder
# hidden (a private mount namespace), so a read of it fails here as it would for a user.
hide_shared_beside() {
  local beside
  beside="$(dirname "$ROOT")/shared"
  if [ -n "${RUNWAY_SHARED_HIDDEN:-}" ] || ! [ -d "$beside" ]; then return 0; fi
  if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
    say "running the tests with $beside hidden, as in a clone that stands alone"
    RUNWAY_SHARED_HIDDEN=1 exec unshare -m --propagation private \
      bash -c 'mount -t tmpfs -o ro,size=16k runway-hides-shared "$1" && shift && exec "$@"' _ "$beside" "$ROOT/dev.sh" "$@"
  fi
  say "warning: cannot hide $beside here (needs root and unshare); only the static check ran"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  start)
    install_build_tools
    build
    say "Runway is starting at http://127.0.0.1:3000 (Ctrl-C stops it)"
    exec ./target/release/runway "$@"
    ;;
  test)
    check_self_contained
    hide_shared_beside test "$@"
    install_build_tools
    install_browser
    ensure_postgres
    # The browser tests run the server built for the tests (debug) with the release browser
    # bundle: a release build of the server would double the time. Debug builds name the
    # bundle as cargo-leptos does only when told its name.
    export LEPTOS_OUTPUT_NAME=runway
    say "unit and integration tests (SQLite and PostgreSQL)"
    cargo test --locked -p app --features ssr
    # nextest runs each test in its own process, two at a time, all from one binary.
    if cargo nextest --version >/dev/null 2>&1; then
      cargo nextest run --locked -p runway --no-fail-fast
    else
      cargo test --locked -p runway
    fi
    cargo build --locked -p runway
    say "building the browser bundle (release)"
    cargo leptos build --release --split --frontend-only --precompress
    say "browser tests (Chromium)"
    (cd end2end && RUNWAY_BIN="$ROOT/target/debug/runway" RUNWAY_SITE_ROOT="$ROOT/target/site" npm test)
    say "all tests passed"
    ;;
  *)
    echo "usage: ./dev.sh start [runway options...] | ./dev.sh test" >&2
    exit 2
    ;;
esac
