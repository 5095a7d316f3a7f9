package interop

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/internal/htmlform"
	"github.com/gatehouse-id/gatehouse/interop/hosted"
)

// ssoBrowser is a person of a customer organization with one cookie jar
// for Gatehouse and their IdP: hosted.Browser on Gatehouse's pages, and a
// plain walk through the IdP's own pages (its login form, its auto-posted
// SAML response).
type ssoBrowser struct {
	*hosted.Browser
	e             *ssoServer
	login, secret string // the credentials the IdP's login form takes
	// postedRequest tells whether the last sign-in sent its request to the
	// IdP by a form post (SAML HTTP-POST binding).
	postedRequest bool
	// acsPost is the last SAML response posted to Gatehouse (its ACS), for
	// replays.
	acsPost struct {
		action string
		form   url.Values
	}
}

func (e *ssoServer) browser(t *testing.T, email, idpPassword string) *ssoBrowser {
	t.Helper()
	// No Gatehouse password: a password form on the way is a failure.
	b, err := hosted.New(e.Issuer, email, "")
	if err != nil {
		t.Fatal(err)
	}
	return &ssoBrowser{Browser: b, e: e, login: email, secret: idpPassword}
}

// signIn runs the application's authorization request (PKCE, scopes
// openid email organization, plus offline_access for a refresh token)
// through the identifier step, the IdP and back, redeems the code and
// returns the tokens, the verified ID token, and whether the IdP asked for
// its login form.
func (b *ssoBrowser) signIn(t *testing.T) (*oauth2.Token, *oidc.IDToken, bool) {
	t.Helper()
	l := newLogin(b.e.rp.config(b.e.app, oidc.ScopeOpenID, "email", "organization", oidc.ScopeOfflineAccess))
	res, err := b.Drive(t.Context(), l.authURL())
	if err != nil {
		t.Fatal(err)
	}
	idpLogin := false
	b.postedRequest = false
	for range 4 {
		if res.Redirect != nil && strings.HasPrefix(res.Redirect.String(), b.e.Callback+"?") {
			code := b.e.rp.callback(t, res, l.state)
			tok, idt, _ := b.e.rp.exchange(t, l, code)
			return tok, idt, idpLogin
		}
		var start *http.Request
		switch {
		case res.Redirect != nil: // HTTP-Redirect binding, or an OIDC authorization request
			start, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, res.Redirect.String(), nil)
		case res.Status == http.StatusOK && len(htmlform.Parse(res.Body)) == 1: // HTTP-POST binding: the auto-posted AuthnRequest
			start = b.formRequest(t, htmlform.Parse(res.Body)[0], mustURL(t, b.Origin))
			b.postedRequest = true
		default:
			t.Fatalf("the sign-in did not go to the IdP: %s", res)
		}
		back, asked := b.atIdP(t, start)
		idpLogin = idpLogin || asked
		res = b.backAtGatehouse(t, back)
	}
	t.Fatalf("the sign-in never reached the application: %s", res)
	return nil, nil, false
}

// atIdP walks the IdP's pages from req: it follows the IdP's redirects,
// fills its login form, and returns the first request that goes back to
// Gatehouse (a redirect to the OIDC callback, or the SAML response's
// form posted to the ACS), and whether the login form was shown.
func (b *ssoBrowser) atIdP(t *testing.T, req *http.Request) (*http.Request, bool) {
	t.Helper()
	asked := false
	var hops []string
	for range 12 {
		resp, err := b.HTTP.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		hops = append(hops, req.Method+" "+req.URL.String()+" → "+resp.Status)
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := resp.Location()
			if err != nil {
				t.Fatalf("IdP redirect without Location: %v", err)
			}
			req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, loc.String(), nil)
			if originOf(loc) == b.Origin {
				return req, asked
			}
		case resp.StatusCode == http.StatusOK:
			forms := htmlform.Parse(string(body))
			if len(forms) == 0 {
				t.Fatalf("IdP page without a form after\n  %s\n%.600s", strings.Join(hops, "\n  "), body)
			}
			f := forms[0]
			if f.Has("password") {
				asked = true
			}
			req = b.formRequest(t, f, req.URL)
			if originOf(req.URL) == b.Origin {
				return req, asked
			}
		default:
			t.Fatalf("IdP answered %s after\n  %s\n%.600s", resp.Status, strings.Join(hops, "\n  "), body)
		}
	}
	t.Fatalf("more than 12 hops at the IdP:\n  %s", strings.Join(hops, "\n  "))
	return nil, false
}

// formRequest submits f (on the page at base) with the IdP credentials
// filled in when it asks for them.
func (b *ssoBrowser) formRequest(t *testing.T, f htmlform.Form, base *url.URL) *http.Request {
	t.Helper()
	action, err := f.ActionURL(base)
	if err != nil {
		t.Fatalf("form action %q: %v", f.Action, err)
	}
	v := f.Values()
	if f.Has("password") {
		for _, name := range []string{"login", "username", "email"} {
			if f.Has(name) {
				v.Set(name, b.login)
			}
		}
		v.Set("password", b.secret)
	}
	if originOf(action) == b.Origin {
		b.acsPost.action, b.acsPost.form = action.String(), v
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, action.String(), strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// backAtGatehouse sends req (the OIDC callback, or the SAML response
// posted to the ACS) and drives on from where Gatehouse sends the browser.
func (b *ssoBrowser) backAtGatehouse(t *testing.T, req *http.Request) hosted.Result {
	t.Helper()
	if req.Method == http.MethodGet {
		res, err := b.Drive(t.Context(), req.URL.String())
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	resp, err := b.HTTP.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", req.URL, err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	loc, err := resp.Location()
	if resp.StatusCode < 300 || resp.StatusCode >= 400 || err != nil {
		t.Fatalf("POST %s (the IdP's response) answered %s, want a redirect to /complete:\n%.600s", req.URL, resp.Status, body)
	}
	res, err := b.Drive(t.Context(), loc.String())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func originOf(u *url.URL) string { return u.Scheme + "://" + u.Host }

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
