package tenants_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

func passkeyAudits(t *testing.T, client *ent.Client, action string) []*ent.AuditEvent {
	t.Helper()
	evs, err := client.AuditEvent.Query().Where(auditevent.Action(action)).All(viewer.SystemContext(t.Context()))
	must(t, err)
	return evs
}

// A ceremony is answered once, by the browser holding its token, for its
// purpose, before it expires; the first answer deletes it whatever it is
// (PK-02).
func TestWebAuthnCeremony(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		clock := testkit.NewClock()
		client := db.Client()
		svc := tenants.NewService(client, tenants.WithClock(clock.Now))
		ctx := context.Background()
		begin := func(p tenants.CeremonyPurpose) string {
			tok, err := svc.BeginCeremony(ctx, p, "", []byte(`{"challenge":"x"}`), clock.Now().Add(5*time.Minute))
			must(t, err)
			return tok
		}

		tok := begin(tenants.CeremonyLogin)
		c, err := svc.TakeCeremony(ctx, tok, tenants.CeremonyLogin)
		if err != nil || string(c.SessionData) != `{"challenge":"x"}` {
			t.Fatalf("take = %v, %v", c, err)
		}
		if _, err := svc.TakeCeremony(ctx, tok, tenants.CeremonyLogin); !errors.Is(err, tenants.ErrCeremony) {
			t.Errorf("second take: %v, want ErrCeremony", err)
		}

		// A registration ceremony answered as a sign-in is refused, and gone.
		tok = begin(tenants.CeremonyRegister)
		if _, err := svc.TakeCeremony(ctx, tok, tenants.CeremonyLogin); !errors.Is(err, tenants.ErrCeremony) {
			t.Errorf("other purpose: %v", err)
		}
		if _, err := svc.TakeCeremony(ctx, tok, tenants.CeremonyRegister); !errors.Is(err, tenants.ErrCeremony) {
			t.Errorf("after a wrong answer the ceremony still stands: %v", err)
		}

		// Expired: refused (and deleted).
		tok = begin(tenants.CeremonyLogin)
		clock.Advance(5 * time.Minute)
		if _, err := svc.TakeCeremony(ctx, tok, tenants.CeremonyLogin); !errors.Is(err, tenants.ErrCeremony) {
			t.Errorf("expired: %v", err)
		}
		if _, err := svc.TakeCeremony(ctx, "", tenants.CeremonyLogin); !errors.Is(err, tenants.ErrCeremony) {
			t.Errorf("no token: %v", err)
		}

		// Parallel answers: exactly one takes it.
		for range 5 {
			tok := begin(tenants.CeremonyLogin)
			var wg sync.WaitGroup
			start := make(chan struct{})
			var mu sync.Mutex
			won := 0
			for range 4 {
				wg.Go(func() {
					<-start
					if _, err := svc.TakeCeremony(ctx, tok, tenants.CeremonyLogin); err == nil {
						mu.Lock()
						won++
						mu.Unlock()
					}
				})
			}
			close(start)
			wg.Wait()
			if won != 1 {
				t.Fatalf("%d parallel answers took one ceremony", won)
			}
		}

		// The sweeper deletes expired ones only.
		begin(tenants.CeremonyLogin)
		clock.Advance(6 * time.Minute)
		live := begin(tenants.CeremonyLogin)
		n, err := svc.SweepWebAuthnCeremonies(ctx)
		if err != nil || n != 1 {
			t.Errorf("swept %d, %v; want 1", n, err)
		}
		if _, err := svc.TakeCeremony(ctx, live, tenants.CeremonyLogin); err != nil {
			t.Errorf("the sweeper took a live ceremony: %v", err)
		}
	})
}

// Passkeys: one owner per credential id (PK-05), the sign counter rule and
// the clone flag (PK-03), the active-user rule, and an audited lifecycle.
func TestPasskeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		clock := testkit.NewClock()
		client := db.Client()
		svc := tenants.NewService(client, tenants.WithClock(clock.Now))
		ctx := context.Background()
		sys := viewer.SystemContext(ctx)
		ada := client.User.Create().SetEmail("ada@example.com").SaveX(sys)
		grace := client.User.Create().SetEmail("grace@example.com").SaveX(sys)
		add := func(u *ent.User, id string, count uint32) (*ent.Passkey, error) {
			return svc.AddPasskey(ctx, tenants.NewPasskey{UserID: u.ID, Name: "  Laptop  ", CredentialID: []byte(id),
				PublicKey: []byte{1, 2, 3}, SignCount: count, RPID: "example.com", BackupEligible: true})
		}

		pk, err := add(ada, "cred-ada", 5)
		must(t, err)
		if pk.Name != "Laptop" || pk.UserID != ada.ID || pk.SignCount != 5 {
			t.Fatalf("added %+v", pk)
		}
		if evs := passkeyAudits(t, client, tenants.ActionPasskeyRegister); len(evs) != 1 || evs[0].Actor != string(ada.ID) || evs[0].TargetID != string(pk.ID) {
			t.Fatalf("register events %+v", evs)
		}
		var conflict *tenants.ConflictError
		if _, err := add(grace, "cred-ada", 0); !errors.As(err, &conflict) {
			t.Errorf("another user registered the same credential id: %v", err)
		}
		if _, err := add(ada, "cred-ada", 0); !errors.As(err, &conflict) {
			t.Errorf("the same user registered the same credential id twice: %v", err)
		}
		if got, u, err := svc.PasskeyOwner(ctx, []byte("cred-ada")); err != nil || got == nil || got.ID != pk.ID || u == nil || u.ID != ada.ID {
			t.Errorf("PasskeyOwner = %v, %v, %v", got, u, err)
		}
		if got, u, err := svc.PasskeyOwner(ctx, []byte("nope")); err != nil || got != nil || u != nil {
			t.Errorf("unknown PasskeyOwner = %v, %v, %v", got, u, err)
		}
		// use is the pages' way: the passkey and its owner read for the
		// ceremony, then the use.
		use := func(cred []byte, in tenants.PasskeyUse) (*ent.Passkey, error) {
			pk, owner, err := svc.PasskeyOwner(ctx, cred)
			if err != nil {
				return nil, err
			}
			return svc.UsePasskey(ctx, pk, owner, in)
		}
		if _, err := use([]byte("nope"), tenants.PasskeyUse{SignCount: 9}); !errors.Is(err, tenants.ErrPasskeyUnknown) {
			t.Errorf("unknown use: %v", err)
		}

		// The counter advances; backup state and last use are recorded.
		clock.Advance(time.Minute)
		got, err := use([]byte("cred-ada"), tenants.PasskeyUse{SignCount: 6, BackupState: true, UserVerified: true})
		must(t, err)
		if stored := client.Passkey.GetX(sys, pk.ID); stored.SignCount != 6 || !stored.BackupState || !stored.UserVerified || !stored.LastUsedAt.Equal(clock.Now()) {
			t.Fatalf("stored after use %+v", stored)
		}
		if got.SignCount != 6 || !got.BackupState || got.LastUsedAt == nil || !got.LastUsedAt.Equal(clock.Now()) {
			t.Fatalf("after use %+v", got)
		}
		// The same counter again (a replayed or cloned assertion): refused,
		// flagged, audited; and refused from then on, even with a higher one.
		if _, err := use([]byte("cred-ada"), tenants.PasskeyUse{SignCount: 6}); !errors.Is(err, tenants.ErrPasskeyClone) {
			t.Fatalf("equal counter: %v", err)
		}
		if p := client.Passkey.GetX(sys, pk.ID); !p.CloneWarning || p.SignCount != 6 {
			t.Errorf("after the regression %+v", p)
		}
		if evs := passkeyAudits(t, client, tenants.ActionPasskeyCloneDetected); len(evs) != 1 || evs[0].Actor != string(ada.ID) {
			t.Errorf("clone events %+v", evs)
		}
		if _, err := use([]byte("cred-ada"), tenants.PasskeyUse{SignCount: 100}); !errors.Is(err, tenants.ErrPasskeyClone) {
			t.Errorf("a flagged passkey signed in: %v", err)
		}
		if n := len(passkeyAudits(t, client, tenants.ActionPasskeyCloneDetected)); n != 1 {
			t.Errorf("%d clone events, want 1", n)
		}

		// Removal is the way out; it is the owner's only.
		if err := svc.RemovePasskey(ctx, grace.ID, pk.ID); !errors.Is(err, tenants.ErrNotFound) {
			t.Errorf("another user removed it: %v", err)
		}
		must(t, svc.RemovePasskey(ctx, ada.ID, pk.ID))
		if n := len(passkeyAudits(t, client, tenants.ActionPasskeyRemove)); n != 1 {
			t.Errorf("%d remove events", n)
		}

		// Authenticators without a counter (always 0) are exempt; a counter
		// that appears later must keep rising; going back to 0 is a regression.
		zero, err := add(grace, "cred-zero", 0)
		must(t, err)
		for range 2 {
			if _, err := use([]byte("cred-zero"), tenants.PasskeyUse{}); err != nil {
				t.Fatalf("zero counter: %v", err)
			}
		}
		if _, err := use([]byte("cred-zero"), tenants.PasskeyUse{SignCount: 3}); err != nil {
			t.Fatalf("counter from 0 to 3: %v", err)
		}
		if _, err := use([]byte("cred-zero"), tenants.PasskeyUse{}); !errors.Is(err, tenants.ErrPasskeyClone) {
			t.Errorf("counter from 3 to 0: %v", err)
		}

		// Two parallel uses of one counter value: one passes.
		par, err := add(grace, "cred-par", 1)
		must(t, err)
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, 2)
		for range 2 {
			wg.Go(func() {
				<-start
				_, err := use([]byte("cred-par"), tenants.PasskeyUse{SignCount: 2})
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		var ok, clone int
		for err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, tenants.ErrPasskeyClone):
				clone++
			default:
				t.Fatal(err)
			}
		}
		if ok > 1 {
			t.Errorf("%d parallel uses of one counter value passed", ok)
		}
		_ = par

		// A passkey removed between the ceremony's read and its use is unknown.
		gone, err := add(grace, "cred-gone", 0)
		must(t, err)
		gonePK, goneOwner, err := svc.PasskeyOwner(ctx, gone.CredentialID)
		must(t, err)
		must(t, svc.RemovePasskey(ctx, grace.ID, gone.ID))
		if _, err := svc.UsePasskey(ctx, gonePK, goneOwner, tenants.PasskeyUse{}); !errors.Is(err, tenants.ErrPasskeyUnknown) {
			t.Errorf("a removed passkey: %v", err)
		}

		// A disabled user's passkey signs nobody in.
		client.User.UpdateOneID(grace.ID).SetStatus(user.StatusDISABLED).ExecX(sys)
		ok2, err := add(ada, "cred-ada-2", 0)
		must(t, err)
		client.User.UpdateOneID(ada.ID).SetStatus(user.StatusDISABLED).ExecX(sys)
		if _, err := use(ok2.CredentialID, tenants.PasskeyUse{}); !errors.Is(err, tenants.ErrPasskeyUserInactive) {
			t.Errorf("a disabled user's passkey: %v", err)
		}
		if _, err := add(ada, "cred-ada-3", 0); !errors.Is(err, tenants.ErrNotFound) {
			t.Errorf("a disabled user registered a passkey: %v", err)
		}
		_ = zero

		// List and rename are the owner's.
		client.User.UpdateOneID(ada.ID).SetStatus(user.StatusACTIVE).ExecX(sys)
		list, err := svc.ListPasskeys(ctx, ada.ID)
		if err != nil || len(list) != 1 || list[0].ID != ok2.ID {
			t.Fatalf("list = %v, %v", list, err)
		}
		if _, err := svc.RenamePasskey(ctx, grace.ID, ok2.ID, "mine"); !errors.Is(err, tenants.ErrNotFound) {
			t.Errorf("another user renamed it: %v", err)
		}
		r, err := svc.RenamePasskey(ctx, ada.ID, ok2.ID, "Phone")
		if err != nil || r.Name != "Phone" {
			t.Errorf("rename = %v, %v", r, err)
		}
	})
}

// PasskeyOwner reads the passkey, its whole user (but the password hash)
// and whether the user has a second factor enrolled in one statement, and
// leaves the last in the request's memo: SecondFactorEnrolled then answers
// without a read. An authenticator app begun but not confirmed is not a
// second factor; a disabled user is no owner.
func TestPasskeyOwnerOneRead(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newMFAFixture(t, db)
		counting, n := db.Counting(t)
		svc := tenants.NewService(db.ClientOn(counting), tenants.WithClock(f.clock.Now))
		last := f.clock.Now().Add(-time.Hour)
		ada := f.client.User.Create().SetEmail("ada@example.com").SetEmailVerified(true).SetName("Ada L").
			SetGivenName("Ada").SetFamilyName("Lovelace").SetLocale("en-GB").SetPicture("https://example.com/ada.png").
			SetLastLoginAt(last).SetMetadata(map[string]any{"team": "analytical"}).SetPasswordHash("$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA").
			SaveX(f.sys)
		grace := f.user(t, "grace@example.com")
		for _, u := range []*ent.User{ada, grace} {
			_, err := f.svc.AddPasskey(context.Background(), tenants.NewPasskey{UserID: u.ID, CredentialID: []byte("cred-" + u.Email),
				PublicKey: []byte{1, 2, 3}, SignCount: 5, RPID: "example.com", BackupEligible: true, Transports: []string{"internal", "hybrid"},
				AttestationType: "none", AAGUID: make([]byte, 16)})
			must(t, err)
		}
		f.enroll(t, ada)
		_, err := f.svc.BeginTOTP(context.Background(), grace.ID) // never confirmed
		must(t, err)

		for _, c := range []struct {
			u        *ent.User
			enrolled bool
		}{{ada, true}, {grace, false}} {
			ctx := tenants.WithLoginPolicyMemo(context.Background())
			n.Reset()
			pk, owner, err := svc.PasskeyOwner(ctx, []byte("cred-"+c.u.Email))
			must(t, err)
			enrolled, err := svc.SecondFactorEnrolled(ctx, c.u.ID)
			must(t, err)
			if got := n.Load(); got != 1 {
				t.Errorf("%s: %d statements, want 1: %q", c.u.Email, got, n.Statements())
			}
			if enrolled != c.enrolled {
				t.Errorf("%s: enrolled %v, want %v", c.u.Email, enrolled, c.enrolled)
			}
			// Without the memo, the same answer from a query of its own.
			if enrolled, err := svc.SecondFactorEnrolled(context.Background(), c.u.ID); err != nil || enrolled != c.enrolled {
				t.Errorf("%s: SecondFactorEnrolled without the memo = %v, %v", c.u.Email, enrolled, err)
			}
			want := f.client.User.GetX(f.sys, c.u.ID)
			if owner.PasswordHash != "" {
				t.Errorf("%s: the password hash was read", c.u.Email)
			}
			if got, want := jsonOf(t, owner), jsonOf(t, want); got != want {
				t.Errorf("owner read as\n%s\nwant\n%s", got, want)
			}
			if got, want := jsonOf(t, pk), jsonOf(t, f.client.Passkey.GetX(f.sys, pk.ID)); got != want {
				t.Errorf("passkey read as\n%s\nwant\n%s", got, want)
			}
		}
		f.client.User.UpdateOne(grace).SetStatus(user.StatusDISABLED).ExecX(f.sys)
		if pk, owner, err := svc.PasskeyOwner(context.Background(), []byte("cred-grace@example.com")); err != nil || pk == nil || owner != nil {
			t.Errorf("disabled owner: %v, %v, %v", pk, owner, err)
		}
	})
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return string(b)
}
