package provider

import (
	"slices"

	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// Authentication context class references (OIDC Core §2 acr) this provider
// asserts (federation's). Discovery lists them in acr_values_supported,
// strongest last. ACRSingleFactor: the user proved one factor, e.g. a
// password alone or a federated sign-in whose upstream reported no more.
// ACRMultiFactor: the sign-in was multi-factor by tenants.MultiFactor,
// e.g. a password and a one-time code, a user-verified passkey, or an
// upstream IdP's multi-factor sign-in that its connection trusts.
const (
	ACRSingleFactor = federation.ACRSingleFactor
	ACRMultiFactor  = federation.ACRMultiFactor
)

// acrValues are the supported ACRs, weakest first.
var acrValues = []string{ACRSingleFactor, ACRMultiFactor}

// acrRank orders ACRs by strength; unknown values rank -1.
func acrRank(acr string) int { return slices.Index(acrValues, acr) }

// acrFromAMR is the ACR the methods in amr establish: multi-factor when
// tenants.MultiFactor says so (the rule LoginPolicy requires), single-factor
// otherwise. A pure function of its input (policy decision, STYLE §5).
func acrFromAMR(amr []string) string {
	if tenants.MultiFactor(amr) {
		return ACRMultiFactor
	}
	return ACRSingleFactor
}

// effectiveACR is the ACR CompleteLogin records: the hosted login's
// claim when it makes one, but never stronger than the methods in amr
// support, and derived from amr when it makes none. ok is false for an
// ACR this provider does not define.
func effectiveACR(claimed string, amr []string) (acr string, ok bool) {
	derived := acrFromAMR(amr)
	if claimed == "" {
		return derived, true
	}
	r := acrRank(claimed)
	if r < 0 {
		return "", false
	}
	if r > acrRank(derived) {
		return derived, true
	}
	return claimed, true
}

// requestedACRs keeps the acr_values (OIDC Core §3.1.2.1) this provider
// knows, in the client's order of preference. They are voluntary: the ID
// token always states the ACR actually achieved, which may be weaker.
func requestedACRs(values []string) []string {
	var out []string
	for _, v := range values {
		if acrRank(v) >= 0 && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
