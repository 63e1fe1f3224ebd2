#!/usr/bin/env bash
# Every build of the workspace must resolve the same features for every
# shared dependency, or the AWS SDK compiles once per build: the tests
# (`cargo test --workspace`), a function as `cargo lambda watch` builds it,
# the command line and the demo. Prints each crate that differs and fails;
# the fix is a line in functions/workspace-hack/Cargo.toml.
set -euo pipefail
cd "$(dirname "$0")/../.."
features() {
  cargo tree "$@" -f "{p} {f}" --prefix none 2>/dev/null | grep " v[0-9]" \
    | awk '$1 !~ /^ecs-canary/ {f=$3; if (f=="(*)" || f=="(proc-macro)") f=""; print $1"@"$2, f}' | sort -u
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
features --workspace -e features,normal,build,dev > "$tmp/workspace"
status=0
for build in $(ls functions/*/src/main.rs | cut -d/ -f2) ecs-canary-cli ecs-canary-e2e ecs-canary-tools; do
  features -p "$build" -e features,normal,build > "$tmp/one"
  differs=$(join "$tmp/workspace" "$tmp/one" -o 0,1.2,2.2 | awk '$2 != $3' | grep -v "^$build@" || true)
  if [ -n "$differs" ]; then
    echo "$build resolves other features than the workspace (crate, workspace, $build):" >&2
    echo "$differs" >&2
    status=1
  fi
done
exit $status
