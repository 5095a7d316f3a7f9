package web

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/application"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/federation/provider"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// requestSpec is a pending request as the contract test makes it, in the
// terms both flows understand.
type requestSpec struct {
	org    pulid.ID // the scope organization:<id>
	want   bool     // the scope organization (any of the user's)
	prompt []string
	maxAge *time.Duration
}

// flowUnderTest is a Flow with a way to make requests in it.
type flowUnderTest struct {
	Flow
	add func(t *testing.T, s requestSpec) string
}

// TestFlowContract holds the fake flow the page tests use to the real
// provider's: the same calls give the same answers (the errors web
// branches on), so that what the page tests prove of fakeFlow holds of
// the provider. A rule the provider enforces and the fake does not fails
// here, not in production.
func TestFlowContract(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		gone := e.user(userSpec{email: "gone@example.com", password: pw, disabled: true})
		acme, other := e.org("Acme", "acme"), e.org("Other", "other")
		strict := e.org("Strict", "strict")
		e.policy(strict, func(p *ent.OrganizationPolicyCreate) { p.SetMfaRequired(true) })
		e.member(ada, acme, membership.StatusACTIVE)
		mia := e.user(userSpec{email: "mia@example.com", password: pw})
		e.member(mia, strict, membership.StatusACTIVE)
		e.member(gone, acme, membership.StatusACTIVE)
		sealer, err := seal.New(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		p, err := provider.New(sys(t.Context()), provider.Config{
			Issuer: "http://127.0.0.1:1", Client: e.client, Dialect: db.Dialect, Sealer: sealer, CryptoKey: sha256.Sum256([]byte("test")),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.clock.Now, AllowHTTPIssuer: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.client.Application.Create().SetName("Acme CRM").SetType(application.TypeWEB).SetClientID("app_client").
			SetSecretHash(secret.Hash("web-secret-0123456789abcdefghijklmnop")).SetRedirectUris([]string{"https://app.example/cb"}).
			SetGrantTypes([]string{"AUTHORIZATION_CODE"}).Exec(sys(t.Context())); err != nil {
			t.Fatal(err)
		}
		scopes := func(s requestSpec) []string {
			sc := []string{"openid", "email"}
			switch {
			case s.org != "":
				sc = append(sc, "organization:"+string(s.org))
			case s.want:
				sc = append(sc, "organization")
			}
			return sc
		}
		real := flowUnderTest{Flow: p, add: func(t *testing.T, s requestSpec) string {
			c := e.client.AuthRequest.Create().SetClientID("app_client").SetRedirectURI("https://app.example/cb").
				SetScopes(scopes(s)).SetResponseType("code").SetState("st").SetPrompt(s.prompt).
				SetCreatedAt(e.clock.Now()).SetExpiresAt(e.clock.Now().Add(10 * time.Minute))
			if s.maxAge != nil {
				c.SetMaxAgeSeconds(int(*s.maxAge / time.Second))
			}
			ar, err := c.Save(sys(t.Context()))
			if err != nil {
				t.Fatal(err)
			}
			return string(ar.ID)
		}}
		fake := flowUnderTest{Flow: e.flow, add: func(t *testing.T, s requestSpec) string {
			return e.flow.add(LoginRequest{Scopes: scopes(s), Prompt: s.prompt, MaxAge: s.maxAge,
				RequestedOrganizationID: string(s.org), WantsOrganization: s.want || s.org != ""})
		}}
		hour := time.Hour
		now := func() time.Time { return e.clock.Now() }
		for _, c := range []struct {
			name string
			req  requestSpec
			// run makes the calls; its error is compared.
			run  func(ctx context.Context, f flowUnderTest, id string) error
			want error
		}{
			{"unknown request", requestSpec{}, func(ctx context.Context, f flowUnderTest, _ string) error {
				_, err := f.LoginRequest(ctx, "areq_01J0000000000000000000000")
				return err
			}, ErrUnknownRequest},
			{"complete", requestSpec{}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.CompleteLogin(ctx, id, Authentication{UserID: ada.ID, AMR: []string{"pwd"}, AuthTime: now()})
				return err
			}, nil},
			{"complete twice", requestSpec{}, func(ctx context.Context, f flowUnderTest, id string) error {
				if _, err := f.CompleteLogin(ctx, id, Authentication{UserID: ada.ID, AMR: []string{"pwd"}, AuthTime: now()}); err != nil {
					return err
				}
				_, err := f.CompleteLogin(ctx, id, Authentication{UserID: ada.ID, AMR: []string{"pwd"}, AuthTime: now()})
				return err
			}, ErrUnknownRequest},
			{"a completed request is no longer pending", requestSpec{}, func(ctx context.Context, f flowUnderTest, id string) error {
				if _, err := f.CompleteLogin(ctx, id, Authentication{UserID: ada.ID, AMR: []string{"pwd"}, AuthTime: now()}); err != nil {
					return err
				}
				_, err := f.LoginRequest(ctx, id)
				return err
			}, ErrUnknownRequest},
			{"disabled user", requestSpec{}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.CompleteLogin(ctx, id, Authentication{UserID: gone.ID, AMR: []string{"pwd"}, AuthTime: now()})
				return err
			}, ErrUserInactive},
			{"organization of a member", requestSpec{want: true}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.CompleteLogin(ctx, id, Authentication{UserID: ada.ID, OrganizationID: acme.ID, AMR: []string{"pwd"}, AuthTime: now()})
				return err
			}, nil},
			{"organization of a non-member", requestSpec{want: true}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.CompleteLogin(ctx, id, Authentication{UserID: ada.ID, OrganizationID: other.ID, AMR: []string{"pwd"}, AuthTime: now()})
				return err
			}, ErrNotMember},
			{"organization wanted, none chosen", requestSpec{want: true}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.CompleteLogin(ctx, id, Authentication{UserID: ada.ID, AMR: []string{"pwd"}, AuthTime: now()})
				return err
			}, ErrNotMember},
			{"organization other than the named one", requestSpec{org: acme.ID}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.CompleteLogin(ctx, id, Authentication{UserID: ada.ID, OrganizationID: other.ID, AMR: []string{"pwd"}, AuthTime: now()})
				return err
			}, ErrNotMember},
			{"the named organization, left empty", requestSpec{org: acme.ID}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.CompleteLogin(ctx, id, Authentication{UserID: ada.ID, AMR: []string{"pwd"}, AuthTime: now()})
				return err
			}, nil},
			{"max_age exceeded", requestSpec{maxAge: &hour}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.CompleteLogin(ctx, id, Authentication{UserID: ada.ID, AMR: []string{"pwd"}, AuthTime: now().Add(-2 * time.Hour)})
				return err
			}, ErrReauthenticate},
			{"prompt=login with an older sign-in", requestSpec{prompt: []string{"login"}}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.CompleteLogin(ctx, id, Authentication{UserID: ada.ID, AMR: []string{"pwd"}, AuthTime: now().Add(-time.Hour)})
				return err
			}, ErrReauthenticate},
			{"unknown acr", requestSpec{}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.CompleteLogin(ctx, id, Authentication{UserID: ada.ID, AMR: []string{"pwd"}, ACR: "urn:other", AuthTime: now()})
				return err
			}, ErrUnknownACR},
			{"password only, into an organization that requires MFA", requestSpec{org: strict.ID}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.CompleteLogin(ctx, id, Authentication{UserID: mia.ID, AMR: []string{"pwd"}, AuthTime: now()})
				return err
			}, ErrPolicyRefused},
			{"password and otp, into an organization that requires MFA", requestSpec{org: strict.ID}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.CompleteLogin(ctx, id, Authentication{UserID: mia.ID, AMR: []string{"pwd", "otp"}, AuthTime: now()})
				return err
			}, nil},
			{"password and recovery code, into an organization that requires MFA", requestSpec{org: strict.ID}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.CompleteLogin(ctx, id, Authentication{UserID: mia.ID, AMR: []string{"pwd", "rc"}, AuthTime: now()})
				return err
			}, nil},
			{"password only, into no organization, for a member of one that requires MFA", requestSpec{}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.CompleteLogin(ctx, id, Authentication{UserID: mia.ID, AMR: []string{"pwd"}, AuthTime: now()})
				return err
			}, ErrPolicyRefused},
			{"fail", requestSpec{}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.FailLogin(ctx, id, "access_denied", "no")
				return err
			}, nil},
			{"fail after completion", requestSpec{}, func(ctx context.Context, f flowUnderTest, id string) error {
				if _, err := f.CompleteLogin(ctx, id, Authentication{UserID: ada.ID, AMR: []string{"pwd"}, AuthTime: now()}); err != nil {
					return err
				}
				_, err := f.FailLogin(ctx, id, "access_denied", "no")
				return err
			}, ErrUnknownRequest},
			{"an error code the protocol does not define", requestSpec{}, func(ctx context.Context, f flowUnderTest, id string) error {
				_, err := f.FailLogin(ctx, id, "server_error", "no")
				if err != nil {
					return errUnsupportedCode
				}
				return nil
			}, errUnsupportedCode},
		} {
			for name, f := range map[string]flowUnderTest{"provider": real, "fake": fake} {
				err := c.run(t.Context(), f, f.add(t, c.req))
				if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
					t.Errorf("%s: %s: %v, want %v", c.name, name, err, c.want)
				}
			}
		}
	})
}

var errUnsupportedCode = errors.New("unsupported error code")
