#!/usr/bin/env bash
# Installs the system packages pip cannot, for `--test` only (the services need none): libzbar0 (the
# tests read our QR symbols with a second reader, pyzbar, besides the services' zxing-cpp), Debian's chromium (the officer's web page is tested in a real headless browser; Playwright
# drives it by executable_path and never downloads a browser of its own) and Debian's prometheus (promtool
# checks and unit-tests the alert rules; the observability test scrapes the running stack with the real
# server). Quiet and idempotent: a
# package already there costs one look-up.
set -euo pipefail
missing=()
if [ "${1:-}" = "--test" ] && ! ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0'; then
  missing+=(libzbar0)
fi
if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null 2>&1; then
  missing+=(chromium)
fi
if [ "${1:-}" = "--test" ] && ! { command -v promtool && command -v prometheus; } >/dev/null 2>&1; then
  missing+=(prometheus)
fi
if [ "${1:-}" = "--test" ] && ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)  # Debian's npm brings nodejs: `npm ci` bundles the wallet's HPKE library (wallet/package.json)
fi
if [ "${#missing[@]}" = 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} (the QR interoperability tests need libzbar0, the browser tests chromium, the alert rules prometheus, the wallet's build npm)..."
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
for package in "${missing[@]}"; do
  case "$package" in
    libzbar0)
      # Not fatal: the QR interoperability tests skip without it locally, and fail in CI.
      echo "the QR interoperability tests read our symbols with zbar too; they are skipped until you run:" >&2
      echo "    sudo apt-get install -y libzbar0        # Debian/Ubuntu (brew install zbar on macOS)" >&2 ;;
    chromium)
      # Not fatal here: the browser tests skip without it locally, and fail with this hint in CI (CI=true).
      echo "the officer's page tests need chromium; they are skipped until you run:" >&2
      echo "    sudo apt-get install -y chromium        # Debian/Ubuntu" >&2 ;;
    npm)
      # The wallet's browser test opens sealed documents with the bundled HPKE library, which npm builds.
      echo "the holder wallet's HPKE library is built with npm; the wallet cannot open documents until you run:" >&2
      echo "    sudo apt-get install -y npm             # Debian/Ubuntu (or any Node.js 18+), then make install" >&2 ;;
    prometheus)
      # Same: the alert-rule and Prometheus tests skip locally without it, and fail in CI.
      echo "the alert rules and the Prometheus test need Debian's prometheus (promtool); they are skipped until you run:" >&2
      echo "    sudo apt-get install -y prometheus      # Debian/Ubuntu" >&2 ;;
  esac
done
exit 0
