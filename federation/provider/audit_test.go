package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/authrequest"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/refreshtoken"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// auditEnv is a provider whose rejection limiter has a clock of its own,
// so a test can open a new window without moving the provider's clock
// (which the library's real-time checks must agree with).
func auditEnv(t *testing.T, d testdb.Database) (*env, *testkit.Clock) {
	ac := testkit.NewClock()
	e := newEnv(t, d, func(c *Config) { c.Audit = tenants.NewAudit(tenants.AuditConfig{Now: ac.Now, Logger: c.Logger}) })
	return e, ac
}

// eventsSince returns the audit events written after the first n, oldest first.
func eventsSince(e *env, n int) []*ent.AuditEvent {
	return e.db.AuditEvent.Query().Order(ent.Asc(auditevent.FieldID)).Offset(n).AllX(e.ctx)
}

func eventCount(e *env) int { return e.db.AuditEvent.Query().CountX(e.ctx) }

// exchangeCode redeems code as web and returns the answer's status.
func exchangeCode(t *testing.T, e *env, code, verifier string) int {
	t.Helper()
	resp := postForm(t, e.issuer+pathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web", webSecret)
	resp.Body.Close()
	return resp.StatusCode
}

func revoke(t *testing.T, e *env, token string) int {
	t.Helper()
	resp := postForm(t, e.issuer+pathRevoke, url.Values{"token": {token}}, "web", webSecret)
	resp.Body.Close()
	return resp.StatusCode
}

// wantEvent is what an audit event must say.
type wantEvent struct {
	action, reason, targetType string
	actor, actorType           string
	detail                     string // metadata.detail of oauth.rejected
}

// TestAuditEvents: every event the provider writes, written by the request
// that causes it with who, where and why (the "Reject" convention: one event
// with a machine-readable reason), on every backend. Client credentials
// tokens write none, by design (audit.go).
func TestAuditEvents(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d testdb.Database) {
		e, ac := auditEnv(t, d)
		orgAuth := Authentication{OrganizationID: e.org.ID}
		orgScopes := []string{"openid", "offline_access", "organization"}
		var (
			tok, tok2 string
			code      string
			verifier  string
		)
		cases := []struct {
			name  string
			setup func(t *testing.T)
			act   func(t *testing.T)
			want  []wantEvent
			// org says the events belong to e.org.
			org bool
		}{
			{name: "sign-in and code exchange", act: func(t *testing.T) { tok = e.signIn(t, orgAuth, orgScopes...).RefreshToken },
				want: []wantEvent{{action: actionUserLogin, targetType: "User", actor: string(e.user.ID), actorType: "user"},
					{action: actionTokenIssue, targetType: "Grant", actor: "web", actorType: "client"}}, org: true},
			{name: "refresh rotation", act: func(t *testing.T) {
				status, body := refreshForm(t, e, url.Values{"refresh_token": {tok}}, "web", webSecret)
				if status != http.StatusOK {
					t.Fatalf("refresh: %d %v", status, body)
				}
				tok2, _ = body["refresh_token"].(string)
			}}, // a rotation writes no event (rotateRefreshToken)
			{name: "refresh token reused", act: func(t *testing.T) {
				if status, body := refreshForm(t, e, url.Values{"refresh_token": {tok}}, "web", webSecret); status != http.StatusBadRequest {
					t.Fatalf("reuse: %d %v", status, body)
				}
			}, want: []wantEvent{{action: actionRefreshReused, reason: "refresh_token_reused", targetType: "Grant", actor: "web", actorType: "client"}}, org: true},
			{name: "refresh of the revoked family", act: func(t *testing.T) {
				refreshForm(t, e, url.Values{"refresh_token": {tok2}}, "web", webSecret)
			}, want: []wantEvent{{action: actionRejected, reason: "invalid_grant", detail: "grant_revoked", actor: "web", actorType: "client"}}},
			{name: "code replayed", setup: func(t *testing.T) {
				var challenge string
				verifier, challenge = pkce()
				code = e.login(codeParams("web", webRedirect, challenge, "offline_access"), Authentication{}).Query().Get("code")
				if s := exchangeCode(t, e, code, verifier); s != http.StatusOK {
					t.Fatalf("first redemption: %d", s)
				}
			}, act: func(t *testing.T) {
				if s := exchangeCode(t, e, code, verifier); s != http.StatusBadRequest {
					t.Fatalf("replay: %d", s)
				}
			}, want: []wantEvent{{action: actionCodeReplayed, reason: "code_replayed", targetType: "AuthRequest", actor: "web", actorType: "client"}}},
			{name: "client revokes a refresh token (RFC 7009)", setup: func(t *testing.T) {
				tok = e.signIn(t, Authentication{}, "offline_access").RefreshToken
			}, act: func(t *testing.T) { revoke(t, e, tok) },
				want: []wantEvent{{action: actionTokenRevoke, reason: "revoked_by_client", targetType: "Grant", actor: "web", actorType: "client"}}},
			{name: "client revokes an access token (RFC 7009)", setup: func(t *testing.T) {
				tok = e.signIn(t, Authentication{}).AccessToken
			}, act: func(t *testing.T) { revoke(t, e, tok) },
				want: []wantEvent{{action: actionTokenRevoke, reason: "revoked_by_client", targetType: "AccessToken", actor: "web", actorType: "client"}}},
			{name: "wrong client secret", act: func(t *testing.T) {
				resp := postForm(t, e.issuer+pathToken, url.Values{"grant_type": {"client_credentials"}}, "machine", "wrong")
				resp.Body.Close()
			}, want: []wantEvent{{action: actionRejected, reason: "invalid_client", detail: "wrong_secret", actor: "anonymous", actorType: "anonymous"}}},
			{name: "unknown client", act: func(t *testing.T) {
				resp := postForm(t, e.issuer+pathToken, url.Values{"grant_type": {"client_credentials"}}, "nobody", "x")
				resp.Body.Close()
			}, want: []wantEvent{{action: actionRejected, reason: "invalid_client", detail: "unknown_client", actor: "anonymous", actorType: "anonymous"}}},
			{name: "unknown refresh token", act: func(t *testing.T) {
				refreshForm(t, e, url.Values{"refresh_token": {"not-a-token"}}, "web", webSecret)
			}, want: []wantEvent{{action: actionRejected, reason: "invalid_grant", detail: "unknown_refresh_token", actor: "web", actorType: "client"}}},
			{name: "unknown code", act: func(t *testing.T) {
				v, _ := pkce()
				exchangeCode(t, e, "not-a-code", v)
			}, want: []wantEvent{{action: actionRejected, reason: "invalid_grant", detail: "unknown_code", actor: "web", actorType: "client"}}},
			{name: "client credentials write no event", act: func(t *testing.T) {
				cc := clientcredentials.Config{ClientID: "machine", ClientSecret: machineSecret, TokenURL: e.issuer + pathToken}
				if _, err := cc.Token(context.Background()); err != nil {
					t.Fatal(err)
				}
			}},
			{name: "end_session revokes the client's grants and the session", setup: func(t *testing.T) {
				s := e.newSession()
				tok, _ = e.signIn(t, Authentication{SessionID: s.ID}, "openid", "offline_access").Extra("id_token").(string)
			}, act: func(t *testing.T) {
				resp, err := noRedirect.Get(e.issuer + pathEndSession + "?" + url.Values{"id_token_hint": {tok}}.Encode())
				must(t, err)
				resp.Body.Close()
			}, want: []wantEvent{ // one per grant of the user at web still alive: the access-token case's and this one
				{action: actionGrantRevoke, reason: "end_session", targetType: "Grant", actor: "web", actorType: "client"},
				{action: actionGrantRevoke, reason: "end_session", targetType: "Grant", actor: "web", actorType: "client"},
				{action: actionSessionRevoke, reason: "end_session", targetType: "Session", actor: "web", actorType: "client"},
			}},
			{name: "user disabled at refresh", setup: func(t *testing.T) {
				tok = e.signIn(t, Authentication{}, "offline_access").RefreshToken
				e.db.User.UpdateOneID(e.user.ID).SetStatus("DISABLED").ExecX(e.ctx)
			}, act: func(t *testing.T) {
				refreshForm(t, e, url.Values{"refresh_token": {tok}}, "web", webSecret)
			}, want: []wantEvent{
				{action: actionGrantRevoke, reason: "user_disabled", targetType: "Grant", actor: "web", actorType: "client"},
				{action: actionRejected, reason: "invalid_grant", detail: "user_is_not_active", actor: "web", actorType: "client"},
			}},
		}
		for _, c := range cases {
			ac.Advance(time.Minute) // a fresh window for rejections
			if c.setup != nil {
				c.setup(t)
			}
			n := eventCount(e)
			c.act(t)
			got := eventsSince(e, n)
			if len(got) != len(c.want) {
				t.Errorf("%s: %d events %v, want %d", c.name, len(got), actions(got), len(c.want))
				continue
			}
			for i, w := range c.want {
				g := got[i]
				reason, _ := g.Metadata["reason"].(string)
				detail, _ := g.Metadata["detail"].(string)
				if g.Action != w.action || reason != w.reason || g.TargetType != w.targetType || detail != w.detail ||
					g.Actor != w.actor || g.ActorType != w.actorType {
					t.Errorf("%s: event %d = %s reason %q detail %q target %q actor %s/%s; want %+v", c.name, i,
						g.Action, reason, detail, g.TargetType, g.Actor, g.ActorType, w)
				}
				if g.IP != "127.0.0.1" || g.UserAgent == "" {
					t.Errorf("%s: event %s lacks where it came from: ip %q agent %q", c.name, g.Action, g.IP, g.UserAgent)
				}
				if w.targetType != "" && g.TargetID == "" {
					t.Errorf("%s: event %s has no target id", c.name, g.Action)
				}
				if c.org && g.OrganizationID != e.org.ID {
					t.Errorf("%s: event %s organization %q, want %q", c.name, g.Action, g.OrganizationID, e.org.ID)
				}
				if w.targetType == "Grant" {
					if _, err := e.db.Grant.Get(e.ctx, idOf(g.TargetID)); err != nil {
						t.Errorf("%s: event %s names grant %q: %v", c.name, g.Action, g.TargetID, err)
					}
				}
				if g.Action == actionCodeReplayed || g.Action == actionRefreshReused {
					if ids, _ := g.Metadata["revoked_grants"].([]any); len(ids) != 1 {
						t.Errorf("%s: revoked_grants %v, want the one grant", c.name, g.Metadata["revoked_grants"])
					}
				}
			}
		}
	})
}

func actions(evs []*ent.AuditEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s(%v)", e.Action, e.Metadata["reason"]))
	}
	return out
}

// TestAuditRejectionsRateLimited: 60 refused token requests in parallel
// from one address write at most the limit (10 a minute per address and
// reason); the first event of the next window counts what was left out.
func TestAuditRejectionsRateLimited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d testdb.Database) {
		e, ac := auditEnv(t, d)
		for _, c := range []struct {
			name, reason string
			form         url.Values
			user, pass   string
		}{
			{"invalid_client", "invalid_client", url.Values{"grant_type": {"client_credentials"}}, "machine", "wrong"},
			{"invalid_grant", "invalid_grant", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"stolen"}}, "web", webSecret},
		} {
			t.Run(c.name, func(t *testing.T) {
				ac.Advance(time.Minute)
				n := eventCount(e)
				var start, done sync.WaitGroup
				start.Add(1)
				statuses := make([]int, 60)
				for i := range statuses {
					done.Add(1)
					go func() {
						defer done.Done()
						start.Wait()
						statuses[i], _, _ = postFormAnswer(e.issuer+pathToken, c.form, c.user, c.pass)
					}()
				}
				start.Done()
				done.Wait()
				for i, s := range statuses {
					if s != http.StatusBadRequest && s != http.StatusUnauthorized {
						t.Fatalf("request %d: status %d", i, s)
					}
				}
				got := eventsSince(e, n)
				if len(got) != 10 {
					t.Fatalf("60 parallel refusals wrote %d events, want the limit, 10", len(got))
				}
				for _, g := range got {
					if g.Action != actionRejected || g.Metadata["reason"] != c.reason {
						t.Errorf("event %s %v, want %s %s", g.Action, g.Metadata, actionRejected, c.reason)
					}
				}
				ac.Advance(time.Minute)
				n = eventCount(e)
				postFormAnswer(e.issuer+pathToken, c.form, c.user, c.pass)
				got = eventsSince(e, n)
				if len(got) != 1 || fmt.Sprint(got[0].Metadata["suppressed"]) != "50" {
					t.Errorf("next window: %v, want one event with suppressed 50", evMetadata(got))
				}
			})
		}
	})
}

func evMetadata(evs []*ent.AuditEvent) []map[string]any {
	var out []map[string]any
	for _, e := range evs {
		out = append(out, e.Metadata)
	}
	return out
}

// failAuditInserts makes every INSERT into audit_events fail until the
// returned function is called, whichever statement carries it.
func failAuditInserts(t *testing.T, e *env) func() {
	t.Helper()
	ctx := e.ctx
	var create, drop []string
	if e.p.cfg.Dialect == dialect.Postgres {
		create = []string{`CREATE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$`,
			`CREATE TRIGGER audit_refuse BEFORE INSERT ON "audit_events" FOR EACH ROW EXECUTE FUNCTION audit_refuse()`}
		drop = []string{`DROP TRIGGER audit_refuse ON "audit_events"`, `DROP FUNCTION audit_refuse()`}
	} else {
		create = []string{`CREATE TRIGGER audit_refuse BEFORE INSERT ON "audit_events" BEGIN SELECT RAISE(ABORT, 'audit refused'); END`}
		drop = []string{`DROP TRIGGER audit_refuse`}
	}
	for _, q := range create {
		if _, err := e.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		for _, q := range drop {
			if _, err := e.db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestAuditCommitsWithChange: where the provider changes rows (a code
// exchange's grant, a refresh rotation, a revocation, a reuse's family
// revocation), the change and its audit event commit or roll back
// together: when the event cannot be written, the change did not happen.
func TestAuditCommitsWithChange(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d testdb.Database) {
		e, _ := auditEnv(t, d)
		revokeTok := e.signIn(t, Authentication{}, "offline_access").RefreshToken
		reusedTok := e.signIn(t, Authentication{}, "offline_access").RefreshToken
		if s, b := refreshForm(t, e, url.Values{"refresh_token": {reusedTok}}, "web", webSecret); s != http.StatusOK {
			t.Fatalf("refresh: %d %v", s, b)
		}
		verifier, challenge := pkce()
		code := e.login(codeParams("web", webRedirect, challenge, "offline_access"), Authentication{}).Query().Get("code")
		grantOf := func(token string) *ent.Grant {
			rt := e.db.RefreshToken.Query().Where(refreshtoken.TokenHash(secret.Hash(token))).WithGrant().OnlyX(e.ctx)
			return rt.Edges.Grant
		}

		var pending string // the auth request of the sign-in completion case
		n := eventCount(e)
		restore := failAuditInserts(t, e)
		cases := []struct {
			name    string
			act     func()
			changed func() bool
		}{
			{"code exchange", func() { exchangeCode(t, e, code, verifier) }, func() bool {
				return e.db.Grant.Query().Where(grant.ClientID("web")).CountX(e.ctx) > 3
			}},
			{"revocation", func() { revoke(t, e, revokeTok) }, func() bool { return grantOf(revokeTok).RevokedAt != nil }},
			{"reuse revokes the family", func() { refreshForm(t, e, url.Values{"refresh_token": {reusedTok}}, "web", webSecret) },
				func() bool { return grantOf(reusedTok).RevokedAt != nil }},
			{"sign-in completion", func() {
				resp := e.authorize(codeParams("web", webRedirect, challenge))
				loc, _ := url.Parse(resp.Header.Get("Location"))
				pending = loc.Query().Get("authRequest")
				_, _ = e.p.CompleteLogin(e.ctx, pending, Authentication{UserID: e.user.ID})
			}, func() bool {
				return e.db.AuthRequest.Query().Where(authrequest.ID(pulid.ID(pending)), authrequest.Done(true)).ExistX(e.ctx)
			}},
		}
		for _, c := range cases {
			c.act()
			if c.changed() {
				t.Errorf("%s: the change was made without its audit event", c.name)
			}
		}
		restore()
		if got := eventsSince(e, n); len(got) != 0 {
			t.Errorf("events written while refused: %v", actions(got))
		}
		// The same requests, now that events can be written: change and event.
		for _, c := range cases[1:] { // the code was spent by its first redemption
			c.act()
			if !c.changed() {
				t.Errorf("%s: no change once events can be written", c.name)
			}
		}
		var got []string
		for _, ev := range eventsSince(e, n) {
			got = append(got, ev.Action)
		}
		for _, a := range []string{actionTokenRevoke, actionRefreshReused, actionUserLogin} {
			if !slices.Contains(got, a) {
				t.Errorf("events %v lack %s", got, a)
			}
		}
	})
}

// TestAuditRevocationRecordedOnce: ten clients' worth of concurrent RFC
// 7009 revocations of one refresh token revoke its grant once and record
// it once.
func TestAuditRevocationRecordedOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d testdb.Database) {
		e, _ := auditEnv(t, d)
		tok := e.signIn(t, Authentication{}, "offline_access").RefreshToken
		n := eventCount(e)
		var start, done sync.WaitGroup
		start.Add(1)
		for range 10 {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				postFormAnswer(e.issuer+pathRevoke, url.Values{"token": {tok}}, "web", webSecret)
			}()
		}
		start.Done()
		done.Wait()
		var revokes int
		for _, ev := range eventsSince(e, n) {
			if ev.Action == actionTokenRevoke {
				revokes++
			}
		}
		if revokes != 1 {
			t.Errorf("%d token.revoke events for one grant, want 1", revokes)
		}
	})
}

// An application's sign-in's user.login event names the browser's device
// (the session's device cookie id, Authentication.DeviceID), as a direct
// sign-in's does: one shape for both (tenants.LoginEvent).
func TestLoginEventCarriesDevice(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d testdb.Database) {
		e, _ := auditEnv(t, d)
		n := eventCount(e)
		_, challenge := pkce()
		e.login(codeParams("web", webRedirect, challenge), Authentication{SessionID: "ses_01JDEVICE", DeviceID: "dev-abc", AMR: []string{"hwk"}})
		var login *ent.AuditEvent
		for _, ev := range eventsSince(e, n) {
			if ev.Action == actionUserLogin {
				login = ev
			}
		}
		if login == nil {
			t.Fatal("no user.login event")
		}
		md := login.Metadata
		if md["device_id"] != "dev-abc" || md["client_id"] != "web" || md["session_id"] != "ses_01JDEVICE" || login.IP != "127.0.0.1" {
			t.Errorf("user.login %+v, metadata %v", login, md)
		}
	})
}
