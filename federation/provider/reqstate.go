package provider

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// reqState carries what one request to a library endpoint learns along
// the way, for storage methods that the library calls without it.
//
// Per-application signing algorithms: op asks Storage.SigningKey(ctx)
// without the client. Every library path that signs first calls
// CreateAccessToken or CreateAccessAndRefreshTokens with the token request
// (which names the client); those sign the access token themselves with
// the application's access_token_signing_algorithm (accesstoken.go) and
// record the client here, so SigningKey answers its
// id_token_signing_algorithm for the ID token the library signs next.
// Tested in TestPerApplicationAlgorithmsAndRotation.
type reqState struct {
	mu sync.Mutex
	// authMethod is how the client authenticated at the token, introspection
	// or revocation endpoint: "basic", "post", "jwt" or "none".
	authMethod string
	// authenticated is the client authenticateClient verified for this
	// request, before the library ran.
	authenticated *client
	// signing is the client whose ID token is being signed.
	signing *client
	// claims is the last access token whose signature our key set verified.
	claims *verifiedClaims
}

type reqStateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	s, _ := ctx.Value(reqStateKey{}).(*reqState)
	return s
}

// authMethodOf is how a request's client authenticates: "basic", "post",
// "jwt" or "none".
func authMethodOf(r *http.Request) string {
	switch {
	case strings.HasPrefix(r.Header.Get("Authorization"), "Basic "):
		return "basic"
	case r.PostForm.Get("client_assertion") != "":
		return "jwt"
	case r.PostForm.Get("client_secret") != "":
		return "post"
	}
	return "none"
}

// withState installs a fresh reqState for the library: the client
// authentication method and the client authenticateClient verified, if any.
func withState(r *http.Request, method string, authenticated *client) *http.Request {
	st := &reqState{authMethod: method, authenticated: authenticated}
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
