package provider

import (
	"crypto/hmac"
	"errors"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/application"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/secret"
)

// authorize is the authorization endpoint (RFC 6749 §3.1, OIDC Core
// §3.1.2). It is ours rather than op's because the library accepts plain
// PKCE, has no RFC 9207 iss and its form_post drops error parameters.
//
// Until client and redirect URI are known good, errors are answered here
// (400, no redirect: RFC 6749 §4.1.2.1); afterwards they go back to the
// client with state and iss.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeOAuthError(w, oidc.ErrInvalidRequest().WithDescription("authorize accepts GET and POST"))
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, oidc.ErrInvalidRequest().WithDescription("malformed request"))
		return
	}
	req, err := op.ParseAuthorizeRequest(r, p.op.Decoder())
	if err != nil {
		writeOAuthError(w, oidc.ErrInvalidRequest().WithDescription("malformed authorization request"))
		return
	}
	c, err := p.clients.get(r.Context(), req.ClientID)
	if errors.Is(err, errUnknownClient) {
		writeOAuthError(w, oidc.ErrInvalidRequest().WithDescription("unknown client_id"))
		return
	}
	if err != nil {
		writeOAuthError(w, p.serverError(r.Context(), "load client", err))
		return
	}
	if !redirectURIAllowed(c, req.RedirectURI) {
		writeOAuthError(w, oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri is not registered for this client"))
		return
	}
	// From here on the client is told through its redirect URI.
	mode := oidc.ResponseMode(req.ResponseMode)
	fail := func(e *oidc.Error) {
		p.writeAuthResponse(w, r, req.RedirectURI, mode, string(e.ErrorType), e.Description, req.State, "")
	}
	switch mode {
	case "", oidc.ResponseModeQuery, oidc.ResponseModeFragment, oidc.ResponseModeFormPost:
	default:
		mode = ""
		fail(oidc.ErrInvalidRequest().WithDescription("unsupported response_mode"))
		return
	}
	if req.RequestParam != "" || r.Form.Get("request_uri") != "" {
		fail(oidc.ErrRequestNotSupported())
		return
	}
	if req.ResponseType != oidc.ResponseTypeCode {
		// Implicit and hybrid are gone in OAuth 2.1 (RFC 9700 §2.1.2).
		p.writeAuthResponse(w, r, req.RedirectURI, mode, "unsupported_response_type", "only response_type=code is supported", req.State, "")
		return
	}
	if c.app.Type == application.TypeMACHINE || !c.hasGrant(oidc.GrantTypeCode) {
		fail(oidc.ErrUnauthorizedClient().WithDescription("client may not use the authorization code grant"))
		return
	}
	if e := validatePKCE(c, req.CodeChallenge, string(req.CodeChallengeMethod)); e != nil {
		fail(e)
		return
	}
	if !validPrompt(req.Prompt) {
		fail(oidc.ErrInvalidRequest().WithDescription("invalid prompt"))
		return
	}
	scopes, e := p.authorizeScopes(c, req.Scopes)
	if e != nil {
		fail(e)
		return
	}
	orgID, _ := requestedOrganization(scopes)
	create := p.db.AuthRequest.Create().
		SetClientID(c.app.ClientID).
		SetRedirectURI(req.RedirectURI).
		SetScopes(scopes).
		SetResponseType(string(req.ResponseType)).
		SetResponseMode(string(mode)).
		SetState(req.State).
		SetNonce(req.Nonce).
		SetCodeChallenge(req.CodeChallenge).
		SetCodeChallengeMethod(string(req.CodeChallengeMethod)).
		SetPrompt(req.Prompt).
		SetLoginHint(req.LoginHint).
		SetAcrValues(req.ACRValues).
		SetUILocales(localeStrings(req.UILocales)).
		SetRequestedOrganizationID(pulid.ID(orgID)).
		SetExpiresAt(p.now().Add(loginTimeout))
	if req.MaxAge != nil {
		create.SetMaxAgeSeconds(int(min(*req.MaxAge, 1<<31-1)))
	}
	ar, err := create.Save(systemCtx(r.Context()))
	if err != nil {
		fail(p.serverError(r.Context(), "store auth request", err))
		return
	}
	http.Redirect(w, r, c.LoginURL(string(ar.ID)), http.StatusFound)
}

// authorizeScopes keeps the scopes this provider knows (RFC 6749 §3.3),
// requires openid, allows offline_access only to clients with the refresh
// grant, gatehouse:admin only to applications granted it, and at most one
// organization scope, whose id must look like one.
func (p *Provider) authorizeScopes(c *client, requested []string) ([]string, *oidc.Error) {
	var scopes []string
	orgScopes := 0
	for _, s := range requested {
		if !knownScope(s) || slices.Contains(scopes, s) {
			continue
		}
		if s == oidc.ScopeOfflineAccess && !c.hasGrant(oidc.GrantTypeRefreshToken) {
			continue
		}
		if s == scopeAdmin && !slices.Contains(c.app.Scopes, scopeAdmin) {
			continue
		}
		if s == scopeOrganization || strings.HasPrefix(s, scopeOrganization+":") {
			orgScopes++
			if id, ok := strings.CutPrefix(s, scopeOrganization+":"); ok && !(pulid.ID(id).Valid() && pulid.ID(id).Prefix() == "org") {
				return nil, oidc.ErrInvalidScope().WithDescription("organization:<id> names no organization")
			}
		}
		scopes = append(scopes, s)
	}
	if orgScopes > 1 {
		return nil, oidc.ErrInvalidScope().WithDescription("at most one organization scope")
	}
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		return nil, oidc.ErrInvalidScope().WithDescription("scope must include openid")
	}
	return scopes, nil
}

// redirectURIAllowed compares exactly (RFC 9700 §4.1.3, RFC 3986 §6.2.1
// simple string comparison). The one exception is RFC 8252 §7.3: a native
// app registered with a loopback IP literal (127.0.0.1 or [::1]) may use
// any port on that same literal, same scheme, path and query.
func redirectURIAllowed(c *client, uri string) bool {
	if uri == "" {
		return false
	}
	if slices.Contains(c.app.RedirectUris, uri) {
		return true
	}
	if c.app.Type != application.TypeNATIVE {
		return false
	}
	got, err := url.Parse(uri)
	if err != nil || got.Scheme != "http" || got.User != nil || got.Fragment != "" || !isLoopbackLiteral(got.Hostname()) {
		return false
	}
	for _, reg := range c.app.RedirectUris {
		want, err := url.Parse(reg)
		if err != nil || want.Scheme != "http" || !isLoopbackLiteral(want.Hostname()) {
			continue
		}
		if want.Hostname() == got.Hostname() && want.EscapedPath() == got.EscapedPath() && want.RawQuery == got.RawQuery &&
			got.Port() != "" && got.Host == net.JoinHostPort(got.Hostname(), got.Port()) {
			return true
		}
	}
	return false
}

func isLoopbackLiteral(host string) bool { return host == "127.0.0.1" || host == "::1" }

func localeStrings(l oidc.Locales) []string {
	out := make([]string, 0, len(l))
	for _, t := range l {
		out = append(out, t.String())
	}
	return out
}

// callback finishes a completed request: CompleteLogin stored the code's
// hash and sent the browser here with the id and the code, so only the
// browser that completed the login can deliver this code (an auth request
// id alone, e.g. from a login URL, yields nothing).
func (p *Provider) callback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, oidc.ErrInvalidRequest().WithDescription("malformed request"))
		return
	}
	id, code := r.Form.Get("id"), r.Form.Get("code")
	if r.Form.Has("error") {
		p.failureCallback(w, r, id)
		return
	}
	if id == "" || code == "" || len(id) > 64 || len(code) > 256 {
		writeOAuthError(w, oidc.ErrInvalidRequest().WithDescription("missing id or code"))
		return
	}
	ar := p.completedRequest(w, r, id, func(ar *ent.AuthRequest) bool {
		return ar.CodeHash != nil && ar.CodeUsedAt == nil && secret.Matches(*ar.CodeHash, code)
	})
	if ar != nil {
		p.writeAuthResponse(w, r, ar.RedirectURI, oidc.ResponseMode(ar.ResponseMode), "", "", ar.State, code)
	}
}

// failureCallback delivers a FailLogin error to a form_post client. The
// MAC proves FailLogin issued exactly this error for this request.
func (p *Provider) failureCallback(w http.ResponseWriter, r *http.Request, id string) {
	errCode, desc := r.Form.Get("error"), r.Form.Get("error_description")
	if id == "" || len(id) > 64 || !hmac.Equal([]byte(r.Form.Get("mac")), []byte(p.failureMAC(id, errCode, desc))) {
		writeOAuthError(w, errUnknownAuthorization())
		return
	}
	ar := p.completedRequest(w, r, id, func(ar *ent.AuthRequest) bool { return ar.CodeHash == nil })
	if ar != nil {
		p.writeAuthResponse(w, r, ar.RedirectURI, oidc.ResponseMode(ar.ResponseMode), errCode, desc, ar.State, "")
	}
}

// completedRequest loads request id for delivery at the callback: done,
// not expired, and what the browser brought matches it. Otherwise it
// answers the browser itself and returns nil.
func (p *Provider) completedRequest(w http.ResponseWriter, r *http.Request, id string, matches func(*ent.AuthRequest) bool) *ent.AuthRequest {
	ar, err := p.db.AuthRequest.Get(systemCtx(r.Context()), pulid.ID(id))
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		writeOAuthError(w, p.serverError(r.Context(), "load auth request", err))
		return nil
	case ar.Done && p.now().Before(ar.ExpiresAt) && matches(ar):
		return ar
	}
	writeOAuthError(w, errUnknownAuthorization())
	return nil
}

func errUnknownAuthorization() *oidc.Error {
	return oidc.ErrInvalidRequest().WithDescription("unknown or expired authorization")
}

// writeAuthResponse sends an authorization response, success (code) or
// error, in the requested response mode, always with iss (RFC 9207 §2):
// query by default for response_type=code (OAuth 2.0 Multiple Response
// Types §2.1), fragment, or form_post (OAuth 2.0 Form Post Response Mode).
func (p *Provider) writeAuthResponse(w http.ResponseWriter, r *http.Request, redirectURI string, mode oidc.ResponseMode,
	errType, desc, state, code string) {
	params := p.authResponseParams(errType, desc, state, code)
	if mode == oidc.ResponseModeFormPost {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
		_ = formPost.Execute(w, struct {
			Action string
			Params url.Values
		}{redirectURI, params})
		return
	}
	http.Redirect(w, r, authResponseURL(redirectURI, mode, params), http.StatusFound)
}

func (p *Provider) authResponseParams(errType, desc, state, code string) url.Values {
	params := url.Values{"iss": {p.cfg.Issuer}}
	if code != "" {
		params.Set("code", code)
	} else {
		params.Set("error", errType)
		if desc != "" {
			params.Set("error_description", desc)
		}
	}
	if state != "" {
		params.Set("state", state)
	}
	return params
}

// authResponseURL puts params in the fragment or the query of the
// registered redirect URI, keeping the query it already has.
func authResponseURL(redirectURI string, mode oidc.ResponseMode, params url.Values) string {
	base, _, _ := strings.Cut(redirectURI, "#")
	if mode == oidc.ResponseModeFragment {
		return base + "#" + params.Encode()
	}
	u, err := url.Parse(base)
	if err != nil { // registered URIs parse; this is defensive
		return base
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

var formPost = template.Must(template.New("form_post").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>Continue</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">
{{end}}<noscript><button type="submit">Continue</button></noscript>
</form></body></html>
`))
