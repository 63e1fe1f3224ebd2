#!/usr/bin/env bash
# A step never imports another step, and the actions and the operator's
# commands never import a step: what two functions share is an action.
# Run by `make lint`; prints each offending line and fails.
set -euo pipefail
cd "$(dirname "$0")/src"
steps=$(ls steps | sed -n 's/\.rs$//p' | grep -vx mod)
status=0
for file in steps/*.rs; do
  own=$(basename "$file" .rs)
  [ "$own" = mod ] && continue
  for other in $steps; do
    [ "$other" = "$own" ] && continue
    if grep -nE "(crate::steps::|super::)$other\b|crate::$other\b" "$file" >/dev/null; then
      grep -nHE "(crate::steps::|super::)$other\b|crate::$other\b" "$file"
      echo "steps/$own.rs imports the step $other: move what they share into actions/" >&2
      status=1
    fi
  done
  # Nor the steps' re-exports at the crate's root.
  for other in $steps; do
    [ "$other" = "$own" ] && continue
    if grep -nE "use crate::\{[^}]*\b$other\b" "$file" >/dev/null; then
      grep -nHE "use crate::\{[^}]*\b$other\b" "$file"
      echo "steps/$own.rs imports the step $other: move what they share into actions/" >&2
      status=1
    fi
  done
done
for file in actions/*.rs operator.rs context.rs events.rs error.rs settings.rs; do
  pattern="crate::steps|crate::(${steps//$'\n'/|})\b|use crate::\{[^}]*\b(${steps//$'\n'/|})\b"
  if grep -nE "$pattern" "$file" >/dev/null; then
    grep -nHE "$pattern" "$file"
    echo "$file imports a step: only lambda.rs runs steps" >&2
    status=1
  fi
done
exit $status
