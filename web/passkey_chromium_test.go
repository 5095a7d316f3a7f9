package web

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/passkey"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// passkeyBrowserEnv serves the pages at http://localhost:<port> (an IP
// address cannot be an RP ID; localhost is a secure context) on a real
// clock, as Chromium keeps real time.
func passkeyBrowserEnv(t *testing.T, db testdb.Database) (*env, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	e := newEnvAt(t, db, testkit.NewRealClock(), func(c *Config) { c.Issuer = base })
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: httpserver.RequestID(e.web.Handler())}}
	srv.Start()
	t.Cleanup(srv.Close)
	return e, base
}

// virtualAuthenticator adds a CTAP2.1 platform authenticator with
// discoverable credentials and user verification (PK-09).
func virtualAuthenticator(t *testing.T, ctx context.Context) webauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
			Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
	if err != nil {
		t.Fatal(err)
	}
	return res.AuthenticatorID
}

// In Chromium with the DevTools virtual authenticator: sign in with a
// password through an authorization request, add a passkey at
// /account/passkeys/new, sign out, then sign in with the passkey alone
// through a new request, ending at the redirect with a code. Then the
// passkey is cloned with its counter back at 0 (PK-03): refused.
func TestChromiumPasskey(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		ctx := chromium(t)
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, "<!doctype html><title>app</title><p id=done>callback reached</p>")
		}))
		t.Cleanup(app.Close)
		e, base := passkeyBrowserEnv(t, db)
		e.flow.base = app.URL
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada Lovelace", password: pw})
		auth := virtualAuthenticator(t, ctx)
		landed := func(t *testing.T, id string) {
			t.Helper()
			loc, err := chromedp.Run(ctx, chromedp.Location())
			if err != nil {
				t.Fatal(err)
			}
			if want := app.URL + "/cb?code=code-for-" + id; loc != want {
				t.Fatalf("landed on %s, want %s", loc, want)
			}
		}

		id := e.flow.add(LoginRequest{FirstParty: true})
		err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/login?authRequest="+id),
			chromedp.WaitVisible(byLabel("Email")),
			chromedp.SendKeys(byLabel("Email"), "ada@example.com"),
			chromedp.Click(byButton("Continue")), // identifier first
			chromedp.WaitVisible(byLabel("Password")),
			chromedp.SendKeys(byLabel("Password"), pw),
			chromedp.Click(byButton("Sign in")),
			chromedp.WaitVisible(chromedp.CSS("#done")),
		)
		if err != nil {
			t.Fatal(err)
		}
		landed(t, id)

		err = chromedp.Do(ctx,
			chromedp.Navigate(base+"/account/passkeys/new"),
			chromedp.WaitVisible(byLabel("Passkey name")),
			chromedp.SendKeys(byLabel("Passkey name"), "Test laptop"),
			chromedp.Click(byButton("Create a passkey")),
			chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Your passkey was added")]`)),
		)
		if err != nil {
			t.Fatal(err)
		}
		pks := e.client.Passkey.Query().Where(passkey.UserID(ada.ID)).AllX(sys(t.Context()))
		if len(pks) != 1 || pks[0].Name != "Test laptop" || pks[0].RpID != "localhost" || !pks[0].UserVerified {
			t.Fatalf("stored passkeys %+v", pks)
		}
		creds, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth})
		if err != nil || len(creds.Credentials) != 1 || !creds.Credentials[0].IsResidentCredential ||
			string(creds.Credentials[0].UserHandle) != string(ada.ID) {
			t.Fatalf("authenticator credentials %+v, %v", creds, err)
		}

		err = chromedp.Do(ctx,
			chromedp.Navigate(base+"/login/logged-out"),
			chromedp.Click(byButton("Sign out")),
			chromedp.WaitVisible(chromedp.Search(`//p[contains(., "You have signed out")]`)),
		)
		if err != nil {
			t.Fatal(err)
		}

		// With a credential for the page's RP ID, the virtual authenticator
		// answers the autofill request (mediation "conditional") at once:
		// loading the page signs in.
		autofill := func(id string) error {
			return chromedp.Do(ctx,
				chromedp.Navigate(base+"/login?authRequest="+id),
				chromedp.WaitVisible(chromedp.Search(`//p[@id="done"] | //p[@role="alert"]`)),
			)
		}
		// The button: with autofill unavailable (as in a browser without
		// conditional mediation), the page offers the button only.
		button := func(id string) error {
			return chromedp.Do(ctx,
				chromedp.Navigate(base+"/login?authRequest="+id),
				chromedp.WaitVisible(byButton("Sign in with a passkey")),
				chromedp.Click(byButton("Sign in with a passkey")),
				chromedp.WaitVisible(chromedp.Search(`//p[@id="done"] | //p[@role="alert"]`)),
			)
		}
		passkeyOnly := func(t *testing.T, id string) {
			t.Helper()
			landed(t, id)
			a, _ := e.flow.completed(id)
			if a.UserID != ada.ID || !slices.Equal(a.AMR, []string{tenants.FactorHardwareKey}) {
				t.Errorf("completed as %s with amr %v", a.UserID, a.AMR)
			}
		}
		id = e.flow.add(LoginRequest{FirstParty: true})
		if err := autofill(id); err != nil {
			t.Fatal(err)
		}
		passkeyOnly(t, id)

		if _, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{
			Source: `PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);`}); err != nil {
			t.Fatal(err)
		}
		id = e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"login"}})
		if err := button(id); err != nil {
			t.Fatal(err)
		}
		passkeyOnly(t, id)

		// PK-03: the credential, copied with its counter back at 0.
		creds, err = chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth})
		if err != nil || len(creds.Credentials) != 1 || creds.Credentials[0].SignCount < 2 {
			t.Fatalf("after sign-in: %+v, %v", creds, err)
		}
		orig := creds.Credentials[0]
		// Sent by hand: cdproto's Credential always carries
		// generateCmtgKeyOnNextOperation, which this authenticator refuses.
		clone := map[string]any{"credentialId": orig.CredentialID, "isResidentCredential": true, "rpId": orig.RpID,
			"privateKey": orig.PrivateKey, "userHandle": orig.UserHandle, "signCount": 0}
		if _, err := chromedp.Call(ctx, webauthn.RemoveCredential, webauthn.RemoveCredentialParams{AuthenticatorID: auth, CredentialID: orig.CredentialID}); err != nil {
			t.Fatal(err)
		}
		addCredential := cdp.Command[map[string]any, cdp.Empty]{Method: webauthn.CommandAddCredential}
		if _, err := chromedp.Call(ctx, addCredential, map[string]any{"authenticatorId": auth, "credential": clone}); err != nil {
			t.Fatal(err)
		}
		id = e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"login"}})
		if err := button(id); err != nil {
			t.Fatal(err)
		}
		msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("[role=alert]")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(msg, "Your passkey could not sign you in") {
			t.Errorf("message %q", msg)
		}
		if _, ok := e.flow.completed(id); ok {
			t.Error("the cloned passkey signed in")
		}
		if pk := e.client.Passkey.GetX(sys(t.Context()), pks[0].ID); !pk.CloneWarning {
			t.Error("the passkey is not flagged")
		}
	})
}

// In Chromium: an organization requires MFA; after the password, the
// second-factor page offers the passkey, and the virtual authenticator's
// (non-discoverable) credential completes the sign-in as pwd + hwk.
func TestChromiumPasskeySecondFactor(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		ctx := chromium(t)
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, "<!doctype html><title>app</title><p id=done>callback reached</p>")
		}))
		t.Cleanup(app.Close)
		e, base := passkeyBrowserEnv(t, db)
		e.flow.base = app.URL
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada Lovelace", password: pw})
		strict := e.org("Strict", "strict")
		e.policy(strict, func(p *ent.OrganizationPolicyCreate) { p.SetMfaRequired(true) })
		e.member(ada, strict, membership.StatusACTIVE)
		key := newSoftKey(t, []byte(ada.ID), false)
		e.register(ada, key, 0)
		auth := virtualAuthenticator(t, ctx)
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key.priv)
		if err != nil {
			t.Fatal(err)
		}
		addCredential := cdp.Command[map[string]any, cdp.Empty]{Method: webauthn.CommandAddCredential}
		if _, err := chromedp.Call(ctx, addCredential, map[string]any{"authenticatorId": auth, "credential": map[string]any{
			"credentialId": key.id, "isResidentCredential": false, "rpId": "localhost", "privateKey": pkcs8, "signCount": 0}}); err != nil {
			t.Fatal(err)
		}

		id := e.flow.add(LoginRequest{FirstParty: true})
		err = chromedp.Do(ctx,
			chromedp.Navigate(base+"/login?authRequest="+id),
			chromedp.WaitVisible(byLabel("Email")),
			chromedp.SendKeys(byLabel("Email"), "ada@example.com"),
			chromedp.Click(byButton("Continue")),
			chromedp.WaitVisible(byLabel("Password")),
			chromedp.SendKeys(byLabel("Password"), pw),
			chromedp.Click(byButton("Sign in")),
			chromedp.WaitVisible(byButton("Use a passkey")),
			chromedp.Click(byButton("Use a passkey")),
			chromedp.WaitVisible(chromedp.Search(`//p[@id="done"] | //p[@role="alert"]`)),
		)
		if err != nil {
			t.Fatal(err)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		if want := app.URL + "/cb?code=code-for-" + id; loc != want {
			t.Fatalf("landed on %s, want %s", loc, want)
		}
		if a, _ := e.flow.completed(id); a.UserID != ada.ID || !slices.Equal(a.AMR, []string{"pwd", "hwk"}) {
			t.Errorf("completed as %s with amr %v", a.UserID, a.AMR)
		}
	})
}
