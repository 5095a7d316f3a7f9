package oidc

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

// startNodeIdP runs ../../interop/node/oidc-idp.mjs (npm's oidc-provider,
// OpenID Certified, which no one here wrote) with one client and returns
// its issuer. Without node or the installed npm packages it skips, unless
// GATEHOUSE_TEST_REQUIRE_ALL=1.
func startNodeIdP(t *testing.T, clientID, secret, redirect string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testkit.Missing(t, "the oidc-provider interop test needs node (>= 20) on PATH (Debian: apt-get install nodejs npm)")
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "interop", "node"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil {
		testkit.Missing(t, "the oidc-provider interop test needs its npm packages: run `npm ci` in %s (.ci/tools.sh does)", dir)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "oidc-idp.mjs", "0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"OIDC_IDP_CLIENT_ID="+clientID,
		"OIDC_IDP_CLIENT_SECRET="+secret,
		"OIDC_IDP_REDIRECT_URI="+redirect,
		"OIDC_IDP_LOGIN="+aliceLogin,
		"OIDC_IDP_PASSWORD="+alicePassword,
		"NO_COLOR=1",
	)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node oidc-idp.mjs: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("oidc-idp.mjs stderr:\n%s", stderr.String())
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if issuer, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				ready <- issuer
			}
		}
		close(ready)
	}()
	select {
	case issuer, ok := <-ready:
		if !ok {
			t.Fatalf("oidc-idp.mjs exited before listening:\n%s", stderr.String())
		}
		return issuer
	case <-time.After(30 * time.Second):
		t.Fatalf("oidc-idp.mjs did not print listening within 30s:\n%s", stderr.String())
	}
	return ""
}

// TestNodeOIDCProvider signs in through npm's oidc-provider as the
// customer's IdP: discovery (its issuer exactly as it states it), Begin,
// its login form, the callback with RFC 9207 iss, Finish (token endpoint
// with client_secret_basic, ID token, userinfo), Identity.
func TestNodeOIDCProvider(t *testing.T) {
	const clientID, secret = "gatehouse-sso", "node-peer-secret-4f9d2c7e1b"
	redirect := callbackFor(testConnection)
	issuer := startNodeIdP(t, clientID, secret, redirect)

	clock := testkit.NewRealClock() // oidc-provider stamps tokens with the real time
	c, err := New(t.Context(), Config{
		ConnectionID: testConnection,
		Issuer:       issuer,
		ClientID:     clientID,
		ClientSecret: secret,
		RedirectURL:  redirect,
		Scopes:       []string{"openid", "email", "profile", "groups"},
		Now:          clock.Now,
		Mapping:      Presets["okta"].Mapping,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if !c.IssParameterSupported() {
		t.Error("oidc-provider advertises authorization_response_iss_parameter_supported; the connector did not read it")
	}

	step, err := c.Begin(t.Context(), federation.BeginRequest{LoginHint: aliceLogin, ForceAuthn: true})
	if err != nil {
		t.Fatal(err)
	}
	cb := browser(t, step.RedirectURL, redirect, "")
	if cb.Query().Get("iss") != issuer {
		t.Errorf("callback %s lacks iss=%s", cb, issuer)
	}
	id, err := c.Finish(t.Context(), callbackRequest(cb), step.State)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if id.Subject != "user-7f3a91" || id.Email != aliceLogin || !id.EmailVerified {
		t.Errorf("identity %q %q verified %v", id.Subject, id.Email, id.EmailVerified)
	}
	if id.Name != "Grace Hopper" || id.GivenName != "Grace" || id.FamilyName != "Hopper" {
		t.Errorf("names %q %q %q", id.Name, id.GivenName, id.FamilyName)
	}
	if !slices.Equal(id.Groups, []string{"engineering", "navy"}) {
		t.Errorf("groups %v", id.Groups)
	}
	if !slices.Equal(id.AMR, []string{"pwd"}) {
		t.Errorf("amr %v; want [pwd]", id.AMR)
	}
	if d := id.AuthTime.Sub(clock.Now()); id.AuthTime.IsZero() || d < -time.Minute || d > time.Minute {
		t.Errorf("auth time %v; clock %v", id.AuthTime, clock.Now())
	}
	if got := id.Attributes["iss"]; len(got) != 1 || got[0] != issuer {
		t.Errorf("attribute iss %q", got)
	}

	// The same answer again: oidc-provider refuses the used code.
	if _, err := c.Finish(t.Context(), callbackRequest(cb), step.State); CodeOf(err) != CodeExchangeFailed {
		t.Errorf("replayed callback: %v; want %s", err, CodeExchangeFailed)
	}
	// Its answer without its iss is refused (RFC 9207 §2.4), as is a state
	// from another sign-in.
	step, _ = c.Begin(t.Context(), federation.BeginRequest{})
	cb = browser(t, step.RedirectURL, redirect, "")
	noIss := withQuery(cb, func(q url.Values) { q.Del("iss") })
	if _, err := c.Finish(t.Context(), callbackRequest(noIss), step.State); CodeOf(err) != CodeIssuerMismatch {
		t.Errorf("callback without iss: %v; want %s", err, CodeIssuerMismatch)
	}
	other, _ := c.Begin(t.Context(), federation.BeginRequest{})
	if _, err := c.Finish(t.Context(), callbackRequest(cb), other.State); CodeOf(err) != CodeStateMismatch {
		t.Errorf("callback with another sign-in's state: %v; want %s", err, CodeStateMismatch)
	}
}
