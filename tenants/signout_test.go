package tenants_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/ent/grant"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/session"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// signOutEnv is a database with two applications and two users, each user
// with unrevoked grants for both applications and unrevoked sessions, plus
// one grant and one session that were revoked before the test (by logout).
type signOutEnv struct {
	client *ent.Client
	svc    *tenants.Service
	now    time.Time // the service's clock: when a revocation by it happens
	before time.Time // when the earlier logout revoked the old grant and session
	admin  context.Context
	orgCtx context.Context // an Organization viewer for acme (e.g. an admin's API key)
	sys    context.Context
	acme   *ent.Organization
	// ada is the user whose credentials change; grace is a bystander.
	ada, grace *ent.User
}

func newSignOutEnv(t *testing.T, db testdb.Database) *signOutEnv {
	t.Helper()
	now := testkit.NewClock().Now()
	client := db.Client()
	e := &signOutEnv{
		client: client,
		svc: tenants.NewService(client, tenants.WithClock(func() time.Time { return now }),
			tenants.WithPasswordParams(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32})),
		now:    now,
		before: now.Add(-time.Hour),
		admin:  viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Instance, Actor: "key_admin"}),
		sys:    viewer.SystemContext(context.Background()),
	}
	var err error
	if e.acme, err = e.svc.CreateOrganization(e.admin, tenants.CreateOrganizationInput{Name: "Acme", Slug: "acme"}); err != nil {
		t.Fatal(err)
	}
	e.orgCtx = viewer.NewContext(context.Background(), viewer.ScopedTo("key_acme", e.acme.ID))
	// acme owns example.com (its users' addresses), so it may set their
	// passwords and status.
	e.client.Domain.Create().SetOrganizationID(e.acme.ID).SetDomain("example.com").SetTxtToken("t").
		SetVerificationState(domain.VerificationStateVERIFIED).ExecX(e.sys)
	// Policy: passwords of acme's members are at least 16 characters.
	if _, err := e.svc.UpdateOrganizationPolicy(e.admin, tenants.UpdateOrganizationPolicyInput{OrganizationID: e.acme.ID,
		PasswordMinLength: ptr(16)}); err != nil {
		t.Fatal(err)
	}
	var apps []*ent.Application
	for _, name := range []string{"web", "mobile"} {
		app, _, err := e.svc.CreateApplication(e.admin, tenants.CreateApplicationInput{Name: name, Type: "WEB",
			ApplicationSettings: tenants.ApplicationSettings{RedirectURIs: []string{"https://" + name + ".example/cb"}}})
		if err != nil {
			t.Fatal(err)
		}
		apps = append(apps, app)
	}
	for _, u := range []struct {
		to    **ent.User
		email string
	}{{&e.ada, "ada@example.com"}, {&e.grace, "grace@example.com"}} {
		if *u.to, _, err = e.svc.CreateUser(e.admin, tenants.CreateUserInput{Email: u.email, OrganizationID: &e.acme.ID,
			Password: ptr("the original password")}); err != nil {
			t.Fatal(err)
		}
		usr := (*u.to).ID
		var sessions []*ent.Session
		for range 2 {
			sessions = append(sessions, e.client.Session.Create().SetUserID(usr).SetTokenHash(secret.Hash(secret.Token(16))).
				SetAuthTime(e.before).SetAmr([]string{"pwd"}).SetExpiresAt(now.Add(24*time.Hour)).SaveX(e.sys))
		}
		for i, app := range apps {
			g := e.client.Grant.Create().SetClientID(app.ClientID).SetUserID(usr).SetScopes([]string{"openid", "offline_access"}).
				SetSessionID(sessions[i].ID).SetAuthTime(e.before).SetExpiresAt(now.Add(30 * 24 * time.Hour))
			if i == 0 {
				g.SetOrganizationID(e.acme.ID)
			}
			g.ExecX(e.sys)
			// A second family for the same application, with no session (e.g. a native app).
			e.client.Grant.Create().SetClientID(app.ClientID).SetUserID(usr).SetScopes([]string{"openid", "offline_access"}).
				SetAuthTime(e.before).SetExpiresAt(now.Add(30 * 24 * time.Hour)).ExecX(e.sys)
		}
		// Revoked earlier by a logout: a later sign-out everywhere keeps its time and reason.
		old := e.client.Session.Create().SetUserID(usr).SetTokenHash(secret.Hash(secret.Token(16))).
			SetAuthTime(e.before).SetExpiresAt(now.Add(24 * time.Hour)).SetRevokedAt(e.before).SaveX(e.sys)
		e.client.Grant.Create().SetClientID(apps[0].ClientID).SetUserID(usr).SetScopes([]string{"openid"}).
			SetSessionID(old.ID).SetAuthTime(e.before).SetExpiresAt(now.Add(30 * 24 * time.Hour)).
			SetRevokedAt(e.before).SetRevokeReason("logout").ExecX(e.sys)
	}
	e.requireLive(t, e.ada.ID)
	e.requireLive(t, e.grace.ID)
	return e
}

// requireLive checks that usr has exactly the fixture's credentials: four
// live grants over two applications, two live sessions, and the one grant
// and session revoked by the earlier logout (with its time and reason).
func (e *signOutEnv) requireLive(t *testing.T, usr pulid.ID) {
	t.Helper()
	grants := e.client.Grant.Query().Where(grant.UserID(usr)).AllX(e.sys)
	sessions := e.client.Session.Query().Where(session.UserID(usr)).AllX(e.sys)
	if len(grants) != 5 || len(sessions) != 3 {
		t.Fatalf("user %s has %d grants and %d sessions, want 5 and 3", usr, len(grants), len(sessions))
	}
	live, clients := 0, map[string]bool{}
	for _, g := range grants {
		switch {
		case g.RevokedAt == nil && g.RevokeReason == "":
			live++
			clients[g.ClientID] = true
		case g.RevokeReason == "logout" && g.RevokedAt != nil && g.RevokedAt.Equal(e.before):
		default:
			t.Errorf("user %s: grant %s (%s) revoked at %v (%q), want live", usr, g.ID, g.ClientID, g.RevokedAt, g.RevokeReason)
		}
	}
	if live != 4 || len(clients) != 2 {
		t.Errorf("user %s has %d live grants for %d applications, want 4 for 2", usr, live, len(clients))
	}
	live = 0
	for _, s := range sessions {
		switch {
		case s.RevokedAt == nil:
			live++
		case s.RevokedAt.Equal(e.before):
		default:
			t.Errorf("user %s: session %s revoked at %v, want live", usr, s.ID, s.RevokedAt)
		}
	}
	if live != 2 {
		t.Errorf("user %s has %d live sessions, want 2", usr, live)
	}
}

// requireSignedOut checks that every grant and session of usr is revoked:
// those live before at e.now with reason, the one revoked by the earlier
// logout still at its own time and with its own reason.
func (e *signOutEnv) requireSignedOut(t *testing.T, usr pulid.ID, reason string) {
	t.Helper()
	grants := e.client.Grant.Query().Where(grant.UserID(usr)).AllX(e.sys)
	sessions := e.client.Session.Query().Where(session.UserID(usr)).AllX(e.sys)
	if len(grants) != 5 || len(sessions) != 3 {
		t.Fatalf("user %s has %d grants and %d sessions, want 5 and 3", usr, len(grants), len(sessions))
	}
	now, old := 0, 0
	for _, g := range grants {
		switch {
		case g.RevokedAt == nil:
			t.Errorf("user %s: grant %s (%s) survived: revoked_at is NULL, want %v (%q)", usr, g.ID, g.ClientID, e.now, reason)
		case g.RevokedAt.Equal(e.now) && g.RevokeReason == reason:
			now++
		case g.RevokedAt.Equal(e.before) && g.RevokeReason == "logout":
			old++
		default:
			t.Errorf("user %s: grant %s revoked at %v (%q), want %v (%q)", usr, g.ID, g.RevokedAt, g.RevokeReason, e.now, reason)
		}
	}
	if now != 4 || old != 1 {
		t.Errorf("user %s: %d grants revoked now and %d kept the earlier logout, want 4 and 1", usr, now, old)
	}
	now, old = 0, 0
	for _, s := range sessions {
		switch {
		case s.RevokedAt == nil:
			t.Errorf("user %s: session %s survived: revoked_at is NULL, want %v", usr, s.ID, e.now)
		case s.RevokedAt.Equal(e.now):
			now++
		case s.RevokedAt.Equal(e.before):
			old++
		default:
			t.Errorf("user %s: session %s revoked at %v, want %v", usr, s.ID, s.RevokedAt, e.now)
		}
	}
	if now != 2 || old != 1 {
		t.Errorf("user %s: %d sessions revoked now and %d kept the earlier logout, want 2 and 1", usr, now, old)
	}
}

// viewers are the callers that may change ada's credentials: an
// instance-wide key, and a key scoped to acme, ada's only organization
// (grants and sessions are outside any organization viewer's reach, so the
// revocation must not depend on the caller's scope).
func (e *signOutEnv) viewers() map[string]context.Context {
	return map[string]context.Context{"instance": e.admin, "organization": e.orgCtx}
}

// TestSetUserPasswordSignsOutEverywhere: setting a user's password (the
// only way to change one: setUserPassword; there is no self-service change
// or reset) revokes every grant of the user, for every application, with
// reason "password changed", and every session, and nobody else's.
func TestSetUserPasswordSignsOutEverywhere(t *testing.T) {
	for _, name := range []string{"instance", "organization"} {
		t.Run(name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db testdb.Database) {
				e := newSignOutEnv(t, db)
				ctx := e.viewers()[name]
				oldHash := e.client.User.GetX(e.sys, e.ada.ID).PasswordHash
				if _, err := e.svc.SetUserPassword(ctx, tenants.SetUserPasswordInput{UserID: e.ada.ID,
					Password: "a brand new passphrase"}); err != nil {
					t.Fatal(err)
				}
				if e.client.User.GetX(e.sys, e.ada.ID).PasswordHash == oldHash {
					t.Fatal("password hash unchanged")
				}
				e.requireSignedOut(t, e.ada.ID, "password changed")
				e.requireLive(t, e.grace.ID)

				// Setting it again revokes what was issued since, and
				// leaves earlier revocations as they were.
				e.client.Grant.Create().SetClientID("late").SetUserID(e.ada.ID).SetScopes([]string{"openid"}).
					SetAuthTime(e.now).SetExpiresAt(e.now.Add(time.Hour)).ExecX(e.sys)
				if _, err := e.svc.SetUserPassword(ctx, tenants.SetUserPasswordInput{UserID: e.ada.ID,
					Password: "yet another passphrase"}); err != nil {
					t.Fatal(err)
				}
				if n := e.client.Grant.Query().Where(grant.UserID(e.ada.ID), grant.RevokedAtIsNil()).CountX(e.sys); n != 0 {
					t.Errorf("%d grants survived the second password change", n)
				}
				e.requireLive(t, e.grace.ID)
			})
		})
	}
}

// TestDisablingUserSignsOutEverywhere: updateUser with status DISABLED
// revokes every grant of the user, with reason "user disabled", and every
// session, and nobody else's.
func TestDisablingUserSignsOutEverywhere(t *testing.T) {
	for _, name := range []string{"instance", "organization"} {
		t.Run(name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db testdb.Database) {
				e := newSignOutEnv(t, db)
				u, err := e.svc.UpdateUser(e.viewers()[name], tenants.UpdateUserInput{ID: e.ada.ID,
					Status: ptr(user.StatusDISABLED), Name: ptr("Ada")})
				if err != nil {
					t.Fatal(err)
				}
				if u.Status != user.StatusDISABLED {
					t.Fatalf("status %s, want DISABLED", u.Status)
				}
				e.requireSignedOut(t, e.ada.ID, "user disabled")
				e.requireLive(t, e.grace.ID)
			})
		})
	}
}

// TestFailedCredentialChangeRevokesNothing: a password change or disable
// that fails writes nothing — no revoked grant or session, no new hash or
// status — and changes that neither set the password nor disable the user
// revoke nothing either.
func TestFailedCredentialChangeRevokesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newSignOutEnv(t, db)
		oldHash := e.client.User.GetX(e.sys, e.ada.ID).PasswordHash
		var invalid *tenants.InputError
		for _, c := range []struct {
			name string
			fn   func() error
			want func(error) bool
		}{
			{"password below the default minimum", func() error {
				_, err := e.svc.SetUserPassword(e.admin, tenants.SetUserPasswordInput{UserID: e.ada.ID, Password: "short"})
				return err
			}, func(err error) bool { return errors.As(err, &invalid) }},
			{"password below the organization's minimum", func() error {
				// 12 characters: long enough to be hashed, too short for acme's 16.
				_, err := e.svc.SetUserPassword(e.admin, tenants.SetUserPasswordInput{UserID: e.ada.ID, Password: "twelve chars"})
				return err
			}, func(err error) bool { return errors.As(err, &invalid) }},
			{"blank password", func() error {
				_, err := e.svc.SetUserPassword(e.admin, tenants.SetUserPasswordInput{UserID: e.ada.ID, Password: "                    "})
				return err
			}, func(err error) bool { return errors.As(err, &invalid) }},
			{"password of an unknown user", func() error {
				_, err := e.svc.SetUserPassword(e.admin, tenants.SetUserPasswordInput{UserID: "usr_unknown", Password: "a brand new passphrase"})
				return err
			}, func(err error) bool { return errors.Is(err, tenants.ErrNotFound) }},
			{"password by a key of another organization", func() error {
				other := viewer.NewContext(context.Background(), viewer.ScopedTo("key_other", "org_other"))
				_, err := e.svc.SetUserPassword(other, tenants.SetUserPasswordInput{UserID: e.ada.ID, Password: "a brand new passphrase"})
				return err
			}, func(err error) bool { return err != nil }},
			{"disable with a taken email", func() error {
				_, err := e.svc.UpdateUser(e.admin, tenants.UpdateUserInput{ID: e.ada.ID, Status: ptr(user.StatusDISABLED),
					Email: ptr("grace@example.com")})
				return err
			}, func(err error) bool { var c *tenants.ConflictError; return errors.As(err, &c) }},
			{"disable with an invalid field", func() error {
				_, err := e.svc.UpdateUser(e.admin, tenants.UpdateUserInput{ID: e.ada.ID, Status: ptr(user.StatusDISABLED),
					Picture: ptr("http://insecure.example/a.png")})
				return err
			}, func(err error) bool { return errors.As(err, &invalid) }},
			{"disable by a key of another organization", func() error {
				other := viewer.NewContext(context.Background(), viewer.ScopedTo("key_other", "org_other"))
				_, err := e.svc.UpdateUser(other, tenants.UpdateUserInput{ID: e.ada.ID, Status: ptr(user.StatusDISABLED)})
				return err
			}, func(err error) bool { return err != nil }},
			{"profile change", func() error {
				_, err := e.svc.UpdateUser(e.admin, tenants.UpdateUserInput{ID: e.ada.ID, Name: ptr("Ada L.")})
				return err
			}, nil},
			{"status ACTIVE", func() error {
				_, err := e.svc.UpdateUser(e.admin, tenants.UpdateUserInput{ID: e.ada.ID, Status: ptr(user.StatusACTIVE)})
				return err
			}, nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				err := c.fn()
				switch {
				case c.want == nil && err != nil:
					t.Error(err)
				case c.want != nil && (err == nil || !c.want(err)):
					t.Errorf("err = %v, want a failure of its kind", err)
				}
				e.requireLive(t, e.ada.ID)
				e.requireLive(t, e.grace.ID)
				u := e.client.User.GetX(e.sys, e.ada.ID)
				if u.PasswordHash != oldHash || u.Status != user.StatusACTIVE {
					t.Errorf("user changed: status %s, hash changed %v", u.Status, u.PasswordHash != oldHash)
				}
			})
		}
	})
}
