#!/usr/bin/env bash
# Installs the system libraries pip cannot: libzbar0 (pyzbar decodes QR images with it).
set -euo pipefail
if ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0'; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing libzbar0 (needed by pyzbar to read QR images)..."
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libzbar0 >/dev/null
  exit 0
fi
echo "pyzbar needs the zbar library. Install it, then run make again:" >&2
echo "    sudo apt-get install -y libzbar0        # Debian/Ubuntu" >&2
echo "    brew install zbar                       # macOS" >&2
exit 1
