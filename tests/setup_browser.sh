#!/bin/sh
# What the tests need that pip cannot bring: headless Chromium for the trace report's browser
# test. Found on PATH, it is used as it is; missing, it is installed from Debian's `chromium`
# package when we are root, and otherwise this stops with the one command to run.
set -eu
for name in ${CHROMIUM:-chromium chromium-browser google-chrome google-chrome-stable}; do
    if command -v "$name" >/dev/null 2>&1; then
        exit 0
    fi
done
install="apt-get update -qq && apt-get install -y -qq chromium"
if [ "$(id -u)" != 0 ]; then
    echo "The browser test needs headless Chromium; install it, then run the tests again:" >&2
    echo "    sudo sh -c '$install'" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "The browser test needs headless Chromium (chromium or google-chrome on PATH);" \
        "install it with this system's package manager, then run the tests again." >&2
    exit 1
fi
echo "installing Chromium for the browser test (Debian's chromium package)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
