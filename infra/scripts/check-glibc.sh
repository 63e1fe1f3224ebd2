#!/usr/bin/env bash
# check-glibc.sh ARCH BINARY...
# Fails unless every binary is an ELF executable for ARCH (x86_64 or arm64)
# that needs no glibc newer than the Lambda runtime's (provided.al2023 ships
# glibc 2.34). readelf reads both architectures on any host.
set -uo pipefail
arch="${1:?usage: check-glibc.sh x86_64|arm64 BINARY...}"
shift
case "$arch" in
  x86_64) machine="Advanced Micro Devices X86-64" ;;
  arm64) machine="AArch64" ;;
  *) echo "unknown architecture $arch (x86_64 or arm64)"; exit 2 ;;
esac
max="${MAX_GLIBC:-2.34}"
status=0
for binary in "$@"; do
  if [ ! -f "$binary" ]; then
    echo "FAIL $binary: no such file"
    status=1
    continue
  fi
  found=$(readelf -h "$binary" 2>/dev/null | sed -n 's/^ *Machine: *//p')
  if [ "$found" != "$machine" ]; then
    echo "FAIL $binary is built for '${found:-not an ELF file}', not $arch"
    status=1
    continue
  fi
  needed=$(readelf -V -W "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
  needed=${needed:-none}
  if [ "$needed" != none ] && [ "$(printf '%s\n%s\n' "$needed" "$max" | sort -V | tail -n 1)" != "$max" ]; then
    echo "FAIL $binary ($arch) needs glibc $needed (> $max)"
    status=1
  else
    echo "ok   $binary ($arch) needs glibc $needed (<= $max)"
  fi
done
exit $status
