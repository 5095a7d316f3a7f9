package provider

import (
	"net/http"
	"net/url"
	"testing"

	"entgo.io/ent/dialect"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-id/gatehouse/ent/revokedtoken"
)

// REL-08: the one-time artifacts (authorization codes, refresh tokens,
// private_key_jwt assertion ids) are single use across nodes, not once per
// node. Each test presents one artifact at two Providers on the same
// database and clock at once, the requests split between their token
// endpoints. Clock skew between nodes is not covered here: e.node() shares
// e's clock.

// TestCrossNodeCodeRedemption (REL-08, OIDC-05(b) across nodes): one
// authorization code redeemed at two nodes at once is exchanged exactly
// once; every other redemption is invalid_grant, only one grant is
// created, and after a replay the winner's access and refresh tokens are
// dead on both nodes.
func TestCrossNodeCodeRedemption(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		nodeB, urlB := e.node()
		nodes, urls := []*Provider{e.p, nodeB}, []string{e.issuer, urlB}
		verifier, challenge := pkce()
		cb := e.login(codeParams("web", webRedirect, challenge, "offline_access"), Authentication{})
		form := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
			"redirect_uri": {webRedirect}, "code_verifier": {verifier}}

		answers := raceTokenRequests(urls, form, "web", webSecret)
		win := requireOneWinner(t, "code redemption", answers, http.StatusBadRequest, "invalid_grant")
		at, _ := win["access_token"].(string)
		rt, _ := win["refresh_token"].(string)
		if at == "" || rt == "" {
			t.Fatalf("winner's answer lacks tokens: %v", win)
		}
		grants, err := e.db.Grant.Query().All(e.ctx)
		must(t, err)
		if len(grants) != 1 {
			t.Fatalf("%d grants after one code was redeemed, want 1", len(grants))
		}

		// A loser that ran before the winner stored its grant had nothing
		// to revoke, so the revocation is checked after a replay that
		// surely comes later, at each node.
		for i, u := range urls {
			status, body, err := postFormAnswer(u+pathToken, form, "web", webSecret)
			must(t, err)
			if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("replay at node %d after the race: %d %v, want 400 invalid_grant", i, status, body["error"])
			}
		}
		g, err := e.db.Grant.Get(e.ctx, grants[0].ID)
		must(t, err)
		if g.RevokedAt == nil || g.RevokeReason != "code replay" {
			t.Errorf("winner's grant after replay: revoked_at %v reason %q, want revoked for code replay", g.RevokedAt, g.RevokeReason)
		}
		for i, p := range nodes {
			if _, err := p.VerifyAccessToken(e.ctx, at); err == nil {
				t.Errorf("winner's access token still verifies at node %d after code replay", i)
			}
		}
		for i, u := range urls {
			status, body, err := postFormAnswer(u+pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web", webSecret)
			must(t, err)
			if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("winner's refresh token at node %d after code replay: %d %v, want 400 invalid_grant", i, status, body["error"])
			}
		}
	})
}

// TestCrossNodeRefreshRotation (REL-08, OIDC-06 across nodes): one
// refresh token presented at two nodes at once rotates exactly once; every
// other answer is invalid_grant, and the losers' reuse revokes the family:
// the winner's successor and access token are dead on both nodes. On
// PostgreSQL it runs twice: two nodes on rotateRefreshSQL, and one of them
// against a node on the two-statement path (the two paths race each
// other).
func TestCrossNodeRefreshRotation(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		peers := map[string]func() (*Provider, string){"node": e.node}
		if e.p.cfg.Dialect == dialect.Postgres {
			peers["two-statement node"] = func() (*Provider, string) { return e.nodeWithDialect("") }
		}
		for name, peer := range peers {
			t.Run(name, func(t *testing.T) {
				nodeB, urlB := peer()
				nodes, urls := []*Provider{e.p, nodeB}, []string{e.issuer, urlB}
				tok := e.signIn(t, Authentication{}, "offline_access")
				claims, err := e.p.VerifyAccessToken(e.ctx, tok.AccessToken)
				must(t, err)
				gid, ok := grantOfJTI(claims.JTI)
				if !ok {
					t.Fatal("access token names no grant")
				}
				form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}

				answers := raceTokenRequests(urls, form, "web", webSecret)
				win := requireOneWinner(t, "refresh", answers, http.StatusBadRequest, "invalid_grant")
				succ, _ := win["refresh_token"].(string)
				at, _ := win["access_token"].(string)
				if succ == "" || at == "" {
					t.Fatalf("winner's answer lacks tokens: %v", win)
				}

				// Every loser either lost the INSERT of the successor or
				// saw it, and both revoke the grant before answering; so by
				// now the family is revoked whatever the interleaving.
				g, err := e.db.Grant.Get(e.ctx, gid)
				must(t, err)
				if g.RevokedAt == nil || g.RevokeReason != "refresh token reuse" {
					t.Errorf("grant after the race: revoked_at %v reason %q, want revoked for refresh token reuse", g.RevokedAt, g.RevokeReason)
				}
				for i, u := range urls {
					for what, rt := range map[string]string{"winner's successor": succ, "presented token": tok.RefreshToken} {
						status, body, err := postFormAnswer(u+pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web", webSecret)
						must(t, err)
						if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
							t.Errorf("%s at node %d after the race: %d %v, want 400 invalid_grant", what, i, status, body["error"])
						}
					}
				}
				for i, p := range nodes {
					for what, a := range map[string]string{"winner's access token": at, "original access token": tok.AccessToken} {
						if _, err := p.VerifyAccessToken(e.ctx, a); err == nil {
							t.Errorf("%s still verifies at node %d", what, i)
						}
					}
				}
			})
		}
	})
}

// TestCrossNodeAssertionReplay (REL-08, OIDC-10 across nodes): one
// private_key_jwt client assertion presented at two nodes at once
// authenticates the client once; every other request is 401
// invalid_client, and the assertion stays spent on both nodes.
func TestCrossNodeAssertionReplay(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		key := newClientKey(t, jose.ES256)
		e.pkjwtApp("svc-jwt", "MACHINE", key)
		_, urlB := e.node()
		urls := []string{e.issuer, urlB}
		jti := "cross-node-" + t.Name()
		assertion := key.assertion(t, "svc-jwt", e.issuer+pathToken, e.clock.Now(), map[string]any{"jti": jti})
		form := url.Values{"grant_type": {"client_credentials"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}

		answers := raceTokenRequests(urls, form, "", "")
		win := requireOneWinner(t, "assertion", answers, http.StatusUnauthorized, "invalid_client")
		if at, _ := win["access_token"].(string); at == "" {
			t.Errorf("winner's answer lacks an access token: %v", win)
		}
		for i, u := range urls {
			status, body, err := postFormAnswer(u+pathToken, form, "", "")
			must(t, err)
			if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
				t.Errorf("assertion replayed at node %d after the race: %d %v, want 401 invalid_client", i, status, body["error"])
			}
		}
		n, err := e.db.RevokedToken.Query().Where(revokedtoken.JtiHasSuffix(":" + jti)).Count(e.ctx)
		if err != nil || n != 1 {
			t.Errorf("%d recorded uses of the assertion's jti (%v), want 1", n, err)
		}
		// A fresh assertion of the same client still works at either node:
		// the refusals were about the jti, not the client.
		for i, u := range urls {
			fresh := url.Values{"grant_type": {"client_credentials"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {key.assertion(t, "svc-jwt", e.issuer+pathToken, e.clock.Now(), nil)}}
			if status, body, err := postFormAnswer(u+pathToken, fresh, "", ""); err != nil || status != http.StatusOK {
				t.Errorf("fresh assertion at node %d: %d %v %v", i, status, body["error"], err)
			}
		}
	})
}
