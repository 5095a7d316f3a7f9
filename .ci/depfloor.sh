#!/usr/bin/env bash
# Fails when the Go toolchain or a module is below the floor in
# ../shared/SECURITY-CHECKLIST.md (DEP-01). govulncheck needs the vulnerability
# database, which this network cannot reach; this table is its stand-in.
set -euo pipefail

floor=(
	"go 1.26.6"
	"github.com/crewjam/saml v0.4.14"
	"github.com/russellhaering/goxmldsig v1.6.1"
	"github.com/zitadel/oidc/v3 v3.38.1"
	"github.com/go-jose/go-jose/v4 v4.0.5"
	"github.com/golang-jwt/jwt/v5 v5.2.2"
	"github.com/vektah/gqlparser/v2 v2.5.14"
	"github.com/go-webauthn/webauthn v0.17.0"
)

# at_least A B: version A >= version B (semver, leading v ignored).
at_least() { [ "$(printf '%s\n%s\n' "${1#v}" "${2#v}" | sort -V | head -n 1)" = "${2#v}" ]; }

# Listed first, so that a failing go list stops the script (set -e) instead
# of leaving an empty table that every check would pass.
modules=$(go list -m -f '{{.Path}} {{.Version}}' all)
declare -A have
while read -r path version; do have[$path]=$version; done <<<"$modules"
have[go]=$(go env GOVERSION | sed 's/^go//')

failed=0
for entry in "${floor[@]}"; do
	read -r path min <<<"$entry"
	version=${have[$path]:-}
	if [ -z "$version" ]; then
		continue # not a dependency (yet)
	fi
	if at_least "$version" "$min"; then
		echo "ok   $path $version (floor $min)"
	else
		echo "FAIL $path $version is below the floor $min"; failed=1
	fi
done
exit $failed
