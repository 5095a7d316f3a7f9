package provider

import (
	"context"
	"net/http"
	"sync"

	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// reqState carries what one request to a library endpoint learns along
// the way, for storage methods that the library calls without it.
//
// Per-application signing algorithms: op asks Storage.SigningKey(ctx)
// without the client. The one token the library still signs is the ID
// token of a code exchange, which it refuses for a code of any client but
// the one that authenticated (RFC 6749 §4.1.3), so SigningKey answers the
// id_token_signing_algorithm of the authenticated client; createTokens
// signs the access token itself with its access_token_signing_algorithm
// (accesstoken.go). Tested in TestPerApplicationAlgorithmsAndRotation.
//
// createTokens also records the organization claims it loaded for the
// code's grant, which the library's ID token repeats.
type reqState struct {
	mu sync.Mutex
	// authenticated is the client authenticateClient verified for this
	// request, before the library ran.
	authenticated *client
	// org is the organization claims of the grant createTokens issued.
	org *organizationClaims
	// claims is the last access token our key set verified (signature,
	// claims and revocation), with its grant.
	claims *verifiedClaims
	// req is the request, whose origin (httpserver.OriginOf) audit events
	// written by storage methods record; worked out only when one is.
	req *http.Request
	// refusal is why the library's code exchange was refused, when our
	// storage decided it (recordRefusal), for the audit event.
	refusal error
}

type reqStateKey struct{}

// recordOrgClaims keeps the organization claims of the grant issued in
// this request for its ID token (SetUserinfoFromRequest).
func recordOrgClaims(ctx context.Context, org *organizationClaims) {
	if st := stateFrom(ctx); st != nil {
		st.mu.Lock()
		st.org = org
		st.mu.Unlock()
	}
}

// issuedOrgClaims is what recordOrgClaims kept.
func issuedOrgClaims(ctx context.Context) *organizationClaims {
	st := stateFrom(ctx)
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.org
}

// recordRefusal keeps err, the reason storage refused a code, for the
// rejected request's audit event.
func recordRefusal(ctx context.Context, err error) {
	if st := stateFrom(ctx); st != nil {
		st.mu.Lock()
		st.refusal = err
		st.mu.Unlock()
	}
}

func stateFrom(ctx context.Context) *reqState {
	s, _ := ctx.Value(reqStateKey{}).(*reqState)
	return s
}

// withState installs a fresh reqState for the library, with the client
// authenticateClient verified, if any.
func withState(r *http.Request, authenticated *client) *http.Request {
	st := &reqState{authenticated: authenticated, req: r}
	return r.WithContext(context.WithValue(r.Context(), reqStateKey{}, st))
}

// systemCtx runs data access as Gatehouse itself: the provider
// authenticates its callers with protocol credentials, not a viewer.
func systemCtx(ctx context.Context) context.Context {
	if v := viewer.FromContext(ctx); v != nil && v.Kind == viewer.System {
		return ctx
	}
	return viewer.SystemContext(ctx)
}
