package provider

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/refreshtoken"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// refreshForm posts a refresh_token grant and decodes the answer.
func refreshForm(t *testing.T, e *env, form url.Values, user, pass string) (int, map[string]any) {
	t.Helper()
	form.Set("grant_type", "refresh_token")
	resp := postForm(t, e.issuer+pathToken, form, user, pass)
	defer resp.Body.Close()
	var body map[string]any
	must(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

// OIDC Core §12.2: a refreshed ID token keeps the sign-in's sub, aud, azp,
// auth_time, acr, amr and sid, has no nonce, and binds the new access
// token by at_hash; the organization claims come again from the live
// membership. The sign-in here is federated with a second factor proven
// locally: both ID tokens' amr is tenants.TokenAMR of its factors.
func TestRefreshedIDToken(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		first := e.signIn(t, Authentication{OrganizationID: e.org.ID, AMR: []string{"sso:conn_01J0000000000000000000000", "upstream:pwd", "otp"},
			SessionID: "ses_01J0000000000000000000000"},
			"profile", "email", "offline_access", "organization")
		rp, err := gooidc.NewProvider(ctx, e.issuer)
		must(t, err)
		verify := func(raw string) map[string]any {
			idt, err := rp.Verifier(&gooidc.Config{ClientID: "web", Now: e.clock.Now}).Verify(ctx, raw)
			must(t, err)
			var claims map[string]any
			must(t, idt.Claims(&claims))
			return claims
		}
		before := verify(first.Extra("id_token").(string))
		e.clock.Advance(60)
		status, body := refreshForm(t, e, url.Values{"refresh_token": {first.RefreshToken}}, "web", webSecret)
		if status != 200 || body["token_type"] != "Bearer" || body["refresh_token"] == nil || body["expires_in"] != float64(e.web.AccessTokenLifetimeSeconds) {
			t.Fatalf("refresh: %d %v", status, body)
		}
		after := verify(body["id_token"].(string))
		for _, k := range []string{"iss", "sub", "azp", "auth_time", "acr", "amr", "sid", "email", "name", "org_id", "org_slug", "org_roles", "permissions"} {
			if !reflect.DeepEqual(after[k], before[k]) || after[k] == nil {
				t.Errorf("refreshed id token %s = %v, sign-in had %v", k, after[k], before[k])
			}
		}
		if amr := fmt.Sprint(after["amr"]); amr != "[fed pwd otp]" {
			t.Errorf("refreshed id token amr %s, want [fed pwd otp]", amr)
		}
		if after["nonce"] != nil || after["acr"] != ACRMultiFactor {
			t.Errorf("refreshed id token nonce %v, acr %v", after["nonce"], after["acr"])
		}
		sum := sha256.Sum256([]byte(body["access_token"].(string)))
		if after["at_hash"] != base64URLEncode(sum[:16]) {
			t.Errorf("at_hash %v does not bind the new access token", after["at_hash"])
		}
		if typ := jwsHeader(t, body["id_token"].(string), "typ"); typ != "JWT" {
			t.Errorf("ID token typ = %q", typ)
		}
		at, err := e.p.VerifyAccessToken(ctx, body["access_token"].(string))
		must(t, err)
		if at.OrganizationID != e.org.ID || at.Subject != string(e.user.ID) || at.ClientID != "web" {
			t.Errorf("refreshed access token %+v", at)
		}

		// A narrower scope (RFC 6749 §6); a wider one is invalid_scope.
		status, body = refreshForm(t, e, url.Values{"refresh_token": {body["refresh_token"].(string)}, "scope": {"openid offline_access"}}, "web", webSecret)
		if status != 200 || body["scope"] != "openid offline_access" {
			t.Fatalf("narrowed refresh: %d %v", status, body)
		}
		if c := verify(body["id_token"].(string)); c["email"] != nil || c["org_id"] != nil || c["sid"] == nil {
			t.Errorf("narrowed id token %v", c)
		}
		narrowed := body["refresh_token"].(string)
		status, body = refreshForm(t, e, url.Values{"refresh_token": {narrowed}, "scope": {"openid admin"}}, "web", webSecret)
		if status != 400 || body["error"] != "invalid_scope" {
			t.Errorf("widened refresh: %d %v", status, body)
		}
		// The refusal did not spend the token.
		if status, body = refreshForm(t, e, url.Values{"refresh_token": {narrowed}}, "web", webSecret); status != 200 {
			t.Errorf("refresh after a widened one was refused: %d %v", status, body)
		}
	})
}

func TestRefreshRefusals(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		tok := e.signIn(t, Authentication{OrganizationID: e.org.ID}, "offline_access", "organization")
		for name, c := range map[string]struct {
			form       url.Values
			user, pass string
			status     int
			error      string
		}{
			"another client's token": {url.Values{"refresh_token": {tok.RefreshToken}, "client_id": {"spa"}}, "", "", 400, "invalid_grant"},
			"unknown token":          {url.Values{"refresh_token": {"not-a-token"}}, "web", webSecret, 400, "invalid_grant"},
			"oversized token":        {url.Values{"refresh_token": {string(make([]byte, 300))}}, "web", webSecret, 400, "invalid_grant"},
			"missing token":          {url.Values{}, "web", webSecret, 400, "invalid_request"},
			"repeated token":         {url.Values{"refresh_token": {tok.RefreshToken, tok.RefreshToken}}, "web", webSecret, 400, "invalid_request"},
			"client without grant":   {url.Values{"refresh_token": {tok.RefreshToken}}, "machine", machineSecret, 400, "unauthorized_client"},
		} {
			status, body := refreshForm(t, e, c.form, c.user, c.pass)
			if status != c.status || body["error"] != c.error {
				t.Errorf("%s: %d %v, want %d %s", name, status, body, c.status, c.error)
			}
		}
		// None of that spent the token.
		status, body := refreshForm(t, e, url.Values{"refresh_token": {tok.RefreshToken}}, "web", webSecret)
		if status != 200 {
			t.Fatalf("refresh after refusals: %d %v", status, body)
		}
		// The membership ends: the next refresh fails and the grant is revoked.
		must(t, e.db.Membership.Update().Where(membership.UserID(e.user.ID)).SetStatus(membership.StatusSUSPENDED).Exec(e.ctx))
		status, body = refreshForm(t, e, url.Values{"refresh_token": {body["refresh_token"].(string)}}, "web", webSecret)
		if status != 400 || body["error"] != "invalid_grant" {
			t.Errorf("refresh after the membership ended: %d %v", status, body)
		}
		if _, err := e.p.VerifyAccessToken(context.Background(), tok.AccessToken); err == nil {
			t.Error("the grant of an ended membership still verifies")
		}
	})
}

// Of concurrent refreshes with one token, on any backend, exactly one
// rotates it; the others are reuse, which revokes the family, so the
// winner's successor is dead too (OAuth 2.1 §4.3.1).
func TestConcurrentRefresh(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		tok := e.signIn(t, Authentication{}, "offline_access")
		answers := raceTokenRequests([]string{e.issuer}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "web", webSecret)
		win := requireOneWinner(t, "refresh", answers, http.StatusBadRequest, "invalid_grant")
		status, body := refreshForm(t, e, url.Values{"refresh_token": {win["refresh_token"].(string)}}, "web", webSecret)
		if status != 400 || body["error"] != "invalid_grant" {
			t.Errorf("the winner's successor survived the reuse: %d %v", status, body)
		}
	})
}

// A refresh reads and rotates in one statement on PostgreSQL and in two on
// SQLite (the read, the successor's INSERT), and writes no audit event; a
// grant for an organization adds one for the organization claims.
func TestRefreshStatements(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d testdb.Database) {
		counted, n := d.Counting(t)
		d.SQL = counted
		e := newEnv(t, d)
		base := map[string]int64{dialect.Postgres: 1, dialect.SQLite: 2}[d.Dialect]
		for _, c := range []struct {
			name   string
			auth   Authentication
			scopes []string
			want   int64
		}{
			{"without an organization", Authentication{}, []string{"openid", "offline_access"}, base},
			{"for an organization", Authentication{OrganizationID: e.org.ID}, []string{"openid", "offline_access", "organization"}, base + 1},
		} {
			tok := e.signIn(t, c.auth, c.scopes...)
			n.Reset()
			status, body := refreshForm(t, e, url.Values{"refresh_token": {tok.RefreshToken}}, "web", webSecret)
			if status != 200 {
				t.Fatalf("%s: %d %v", c.name, status, body)
			}
			if got := n.Load(); got != c.want {
				t.Errorf("%s: %d statements, want %d: %q", c.name, got, c.want, n.Statements())
			}
		}
	})
}

// On PostgreSQL the read inserts the successor when SQL's copy of the
// checks passes; if Go's checks refuse the refresh after all, unrotate
// deletes it again, and the presented token is as good as before. On
// SQLite the read only reads.
func TestUnrotate(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		tok := e.signIn(t, Authentication{}, "offline_access")
		c, err := e.p.clients.get(systemCtx(e.ctx), "web")
		must(t, err)
		succ := newSuccessor()
		row, rotated, err := e.p.loadRefreshRow(systemCtx(e.ctx), c, secret.Hash(tok.RefreshToken), nil, &succ)
		must(t, err)
		if want := e.p.cfg.Dialect == dialect.Postgres; row == nil || rotated != want {
			t.Fatalf("row %v, rotated %v, want %v", row, rotated, want)
		}
		if rotated {
			e.p.unrotate(systemCtx(e.ctx), succ)
		}
		if status, body := refreshForm(t, e, url.Values{"refresh_token": {succ.token}}, "web", webSecret); status != 400 {
			t.Errorf("the unstored successor refreshed: %d %v", status, body)
		}
		if status, body := refreshForm(t, e, url.Values{"refresh_token": {tok.RefreshToken}}, "web", webSecret); status != 200 {
			t.Errorf("the presented token afterwards: %d %v", status, body)
		}
	})
}

// A rotation that commits while a refresh of the same token waits to write
// (held back here by an open transaction that stores the winner) makes
// that refresh a reuse: it fails with invalid_grant and revokes the family,
// the winner included. On PostgreSQL the one statement's INSERT waits on
// the unique parent_id and skips (ON CONFLICT), and the plain INSERT that
// follows reports the reuse; on SQLite the INSERT waits for the write lock.
func TestRefreshLosesRace(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		tok := e.signIn(t, Authentication{}, "offline_access")
		presented, err := e.db.RefreshToken.Query().Where(refreshtoken.TokenHash(secret.Hash(tok.RefreshToken))).Only(e.ctx)
		must(t, err)
		tx, err := e.db.Tx(e.ctx)
		must(t, err)
		winner := secret.Token(32)
		err = tx.RefreshToken.Create().SetGrantID(presented.GrantID).SetTokenHash(secret.Hash(winner)).
			SetIdleExpiresAt(presented.IdleExpiresAt).SetParentID(presented.ID).Exec(e.ctx)
		if err != nil {
			_ = tx.Rollback()
			t.Fatal(err)
		}
		answered := make(chan raceAnswer, 1)
		go func() {
			status, body, err := postFormAnswer(e.issuer+pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "web", webSecret)
			answered <- raceAnswer{status: status, body: body, err: err}
		}()
		if e.p.cfg.Dialect == dialect.Postgres {
			// The path under test: the refresh has read the token as unrotated
			// and its write waits on the winner's uncommitted successor (the
			// unique parent_id). Wait until PostgreSQL says so.
			waitForLockWait(t, e, "refresh_tokens")
		}
		// On SQLite nothing shows that the refresh is waiting; whether it read
		// before or after this commit, the answer below must be the same.
		must(t, tx.Commit())
		a := <-answered
		must(t, a.err)
		if a.status != http.StatusBadRequest || a.body["error"] != "invalid_grant" {
			t.Fatalf("the refresh that lost the race answered %d %v, want invalid_grant", a.status, a.body)
		}
		if status, body := refreshForm(t, e, url.Values{"refresh_token": {winner}}, "web", webSecret); status != http.StatusBadRequest {
			t.Errorf("the winner survived the reuse: %d %v", status, body)
		}
	})
}

// waitForLockWait returns once a statement on table of this test's
// database waits on a lock held by another transaction (PostgreSQL only).
// It polls the server's own view of its backends: a barrier on a state,
// not a sleep that hopes to have waited long enough.
func waitForLockWait(t *testing.T, e *env, table string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, err := e.db.QueryContext(e.ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%'`, table)
		must(t, err)
		var n int
		for rows.Next() {
			must(t, rows.Scan(&n))
		}
		must(t, rows.Close())
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no statement on %s came to wait on a lock within 30s", table)
		}
		time.Sleep(5 * time.Millisecond) // a poll interval; the condition decides
	}
}
