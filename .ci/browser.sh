#!/usr/bin/env bash
# Headless Chromium for tests/integration/test_report_browser.py (Debian packages; idempotent).
# The test drives Chromium over --remote-debugging-pipe; chromium-driver is installed alongside for
# WebDriver-based tools. Without root and without a browser, the browser test skips with a reason.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "warning: /usr/bin/chromium is missing and installing it needs root; the browser test will skip" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
echo "installed: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
