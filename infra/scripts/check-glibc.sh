#!/usr/bin/env bash
# Fails if any bootstrap binary needs a glibc newer than the Lambda runtime's
# (provided.al2023 ships glibc 2.34).
set -euo pipefail
max="${MAX_GLIBC:-2.34}"
status=0
for binary in "$@"; do
  needed=$(objdump -T "$binary" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
  needed=${needed:-none}
  if [ "$needed" != none ] && [ "$(printf '%s\n%s\n' "$needed" "$max" | sort -V | tail -n 1)" != "$max" ]; then
    echo "FAIL $binary needs glibc $needed (> $max)"
    status=1
  else
    echo "ok   $binary needs glibc $needed (<= $max)"
  fi
done
exit $status
