#!/usr/bin/env bash
# Headless Chromium for tests/test_report_html_browser.py (XSS / self-containment of the HTML report).
# Installs Debian's `chromium` only when it is missing; the test skips with a reason if this fails.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  command -v sudo >/dev/null 2>&1 && SUDO="sudo" || { echo "setup_chromium: not root and no sudo: skipping" >&2; exit 0; }
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || { echo "setup_chromium: apt-get update failed: skipping" >&2; exit 0; }
$SUDO apt-get install -y -qq chromium >/dev/null || echo "setup_chromium: could not install chromium: browser tests will skip" >&2
