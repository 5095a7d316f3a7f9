package web

import (
	"slices"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/totp"
)

// A passkey sign-in is user-verified (PK-04), a multi-factor
// cryptographic authenticator (tenants.MultiFactor): by itself it
// satisfies an organization's mfaRequired, an application that asks for
// the multi-factor acr, and the second factor its owner enrolled, with no
// one-time code after it.
func TestPasskeySatisfiesMFA(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newPasskeyEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada", password: pw})
		strict := e.org("Strict", "strict")
		e.policy(strict, func(p *ent.OrganizationPolicyCreate) { p.SetMfaRequired(true) })
		e.member(ada, strict, "ACTIVE")
		e.alignClock()
		app, err := e.web.cfg.Tenants.BeginTOTP(t.Context(), ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := totp.DecodeSecret(app.Secret)
		if ok, err := e.web.cfg.Tenants.ConfirmTOTP(t.Context(), ada.ID, app.Credential.ID, e.otp(key, 0)); !ok || err != nil {
			t.Fatalf("confirm: %v %v", ok, err)
		}
		synced := newSoftKey(t, []byte(ada.ID), true)
		e.register(ada, synced, 0)

		for _, req := range []LoginRequest{
			{FirstParty: true},
			{FirstParty: true, ACRValues: []string{federation.ACRMultiFactor}},
		} {
			b := e.browser()
			id, csrf, ch := b.passkeyStart(req)
			wantRedirect(t, b.passkeyFinish(id, csrf, synced.assert(ch)), id)
			if a, _ := e.flow.completed(id); a.UserID != ada.ID || !slices.Equal(a.AMR, []string{"swk"}) {
				t.Errorf("completed as %s with amr %v, want ada with [swk]", a.UserID, a.AMR)
			}
		}
	})
}
