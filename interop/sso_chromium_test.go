package interop

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
)

// testSSOChromium runs the whole chain in headless Chromium, once through
// a SAML IdP (crewjam's, in-process) and once through an OIDC one (npm's
// oidc-provider), each in a browser context of its own: the application's
// authorization request, the identifier step, the IdP's login form, the
// IdP's answer (the auto-posted SAML response to the ACS and /complete,
// or the OIDC callback), the code at the application, and tokens with the
// organization's claims for a user made just in time. Each page a person
// sees is screenshotted into GATEHOUSE_SCREENSHOTS (default
// .ci/artifacts/screenshots).
func testSSOChromium(t *testing.T, e *ssoServer) {
	browser := chromiumFor(t)
	shots := ssoScreenshotDir(t)

	t.Run("SAML", func(t *testing.T) {
		const password = "the globex corporation"
		hank := "hank@globex.test"
		g := startGoIdP(t, password, hank)
		c := e.setUpSAMLCustomer(t, "Globex", "globex", "globex.test", "GENERIC", g.metadataXML(t))
		g.trust(t, c.conn.SPMetadataURL)
		ch := newChromiumSSO(t, e, browser, shots, "sso-saml-"+e.Backend)
		idt, accessToken := ch.signIn(t, hank, func(t *testing.T) {
			ch.run(t, chromedp.WaitVisible(`#username`))
			ch.shot(t, "idp-login")
			ch.run(t, chromedp.SendKeys(`#username`, hank), chromedp.SendKeys(`#password`, password), chromedp.Submit(`#password`))
		})
		requireOrgTokens(t, idt, accessToken, hank, c.orgID, c.slug, c.conn.ID)
		e.requireJIT(t, hank, c.orgID)
	})

	t.Run("OIDC", func(t *testing.T) {
		milton := "milton@umbrella.test"
		c := e.setUpOIDCCustomer(t, "umbrella", "umbrella.test", milton)
		ch := newChromiumSSO(t, e, browser, shots, "sso-oidc-"+e.Backend)
		idt, accessToken := ch.signIn(t, milton, func(t *testing.T) {
			ch.run(t, chromedp.WaitVisible(`input[name="password"]`))
			ch.shot(t, "idp-login")
			ch.run(t, chromedp.SendKeys(`input[name="password"]`, initechPassword), chromedp.Submit(`input[name="password"]`))
		})
		requireOrgTokens(t, idt, accessToken, milton, c.orgID, c.slug, c.connID)
		e.requireJIT(t, milton, c.orgID)
	})
}

// chromiumSSO is one browser context (its own cookies) in the backend's
// Chromium.
type chromiumSSO struct {
	e     *ssoServer
	ctx   context.Context
	shots string // the folder
	name  string // the screenshots' prefix
}

func newChromiumSSO(t *testing.T, e *ssoServer, browser context.Context, shots, name string) *chromiumSSO {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("new browser context: %v", err)
	}
	return &chromiumSSO{e: e, ctx: ctx, shots: shots, name: name}
}

// signIn goes from the application's authorization request through the
// identifier step as email; atIdP signs in on the IdP's page. It returns
// the verified ID token and the access token.
func (c *chromiumSSO) signIn(t *testing.T, email string, atIdP func(*testing.T)) (*oidc.IDToken, string) {
	t.Helper()
	l := newLogin(c.e.rp.config(c.e.app, oidc.ScopeOpenID, "email", "organization"))
	c.run(t, chromedp.Navigate(l.authURL()), chromedp.WaitVisible(`#email`))
	c.shot(t, "identifier")
	c.run(t, chromedp.SendKeys(`#email`, email), chromedp.Submit(`#email`))
	atIdP(t)
	loc := waitLocation(t, c.ctx, func(loc string) bool { return strings.HasPrefix(loc, c.e.Callback+"?") })
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	code := c.e.rp.callback(t, result{Redirect: u}, l.state)
	tok, idt, _ := c.e.rp.exchange(t, l, code)
	return idt, tok.AccessToken
}

// run runs actions, each given 20 s; a failure shows the page.
func (c *chromiumSSO) run(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for _, a := range actions {
		step, cancel := context.WithTimeout(c.ctx, 20*time.Second)
		err := chromedp.Do(step, a)
		cancel()
		if err != nil {
			loc, _ := chromedp.Run(c.ctx, chromedp.Location())
			body, _ := chromedp.Run(c.ctx, chromedp.Text(`body`))
			t.Fatalf("%v\nat %s:\n%.600s", err, loc, body)
		}
	}
}

// shot keeps the page as <name>-<step>.png.
func (c *chromiumSSO) shot(t *testing.T, step string) {
	t.Helper()
	png, err := chromedp.Run(c.ctx, chromedp.FullScreenshot(100)) // 100: PNG; less is JPEG
	if err != nil {
		t.Fatalf("screenshot %s: %v", step, err)
	}
	if err := os.WriteFile(filepath.Join(c.shots, c.name+"-"+step+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ssoScreenshotDir is GATEHOUSE_SCREENSHOTS, or .ci/artifacts/screenshots
// under the repository root (as web's page tests keep theirs), made if
// missing.
func ssoScreenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", ".ci", "artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
