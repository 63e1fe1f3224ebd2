#!/usr/bin/env bash
# Fails if any binary needs a glibc newer than the Lambda runtime's
# (provided.al2023 ships glibc 2.34).
set -uo pipefail
max="${MAX_GLIBC:-2.34}"
status=0
for binary in "$@"; do
  if [ ! -f "$binary" ]; then
    echo "FAIL $binary: no such file"
    status=1
    continue
  fi
  needed=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
  needed=${needed:-none}
  if [ "$needed" != none ] && [ "$(printf '%s\n%s\n' "$needed" "$max" | sort -V | tail -n 1)" != "$max" ]; then
    echo "FAIL $binary needs glibc $needed (> $max)"
    status=1
  else
    echo "ok   $binary needs glibc $needed (<= $max)"
  fi
done
exit $status
