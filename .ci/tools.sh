#!/usr/bin/env bash
# Installs, from Debian's packages, what the interop and browser tests drive:
# Node.js with npm (npm's openid-client as a relying party) and Chromium
# (hosted pages in a real browser), installing only what is missing; then
# interop/node's npm packages (openid-client, oidc-provider, axe-core).
set -euo pipefail

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi
node --version
npm --version 2>/dev/null | tail -n 1
/usr/bin/chromium --version 2>/dev/null || true

# npm packages from the committed lock file: openid-client (interop),
# oidc-provider (federation/oidc's upstream IdP) and axe-core (the page
# checks of web/pages_chromium_test.go).
(cd "$(dirname "$0")/../interop/node" && npm ci --no-audit --no-fund --loglevel=error)
