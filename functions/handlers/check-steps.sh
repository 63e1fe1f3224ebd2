#!/usr/bin/env bash
# A step never imports another step, and the actions and the operator's
# commands never import a step: what two functions share is an action.
# Run by `make lint`; prints each offending line and fails.
set -euo pipefail
cd "$(dirname "$0")/src"
steps=$(ls steps | sed -n 's/\.rs$//p' | grep -vx mod)
# A use of step $1: through the steps module, a sibling, or the crate's re-exports.
uses_of() {
  echo "crate::steps::($1)\\b|super::($1)\\b|crate::($1)\\b|use crate::\\{[^}]*\\b($1)\\b"
}
status=0
check() { # file, the steps it must not use, why
  if grep -nHE "$(uses_of "$2")" "$1"; then
    echo "$1: $3" >&2
    status=1
  fi
}
for file in steps/*.rs; do
  own=$(basename "$file" .rs)
  [ "$own" = mod ] && continue
  others=$(echo "$steps" | grep -vx "$own" | paste -sd'|')
  check "$file" "$others" "imports another step: move what they share into actions/"
done
all=$(echo "$steps" | paste -sd'|')
for file in actions/*.rs operator.rs context.rs events.rs error.rs settings.rs; do
  check "$file" "$all" "imports a step: only lambda.rs runs steps"
  grep -nHE "crate::steps\b" "$file" && { echo "$file: imports the steps" >&2; status=1; }
done
exit $status
