package tenants_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/internal/totp"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// mfaFixture is a service with a sealer on a clock that starts five
// seconds into a TOTP step, so no code straddles a step unless the test
// moves the clock.
type mfaFixture struct {
	svc    *tenants.Service
	client *ent.Client
	clock  *testkit.Clock
	sys    context.Context
	admin  context.Context
}

func newMFAFixture(t *testing.T, db testdb.Database) *mfaFixture {
	t.Helper()
	clock := testkit.NewClock()
	now := clock.Now()
	clock.Advance(totp.Period - time.Duration(now.Unix()%30)*time.Second + 5*time.Second)
	key := make([]byte, seal.KeySize)
	key[0] = 7
	sl, err := seal.New(key)
	must(t, err)
	client := db.Client()
	return &mfaFixture{
		svc: tenants.NewService(client, tenants.WithClock(clock.Now), tenants.WithSealer(sl),
			tenants.WithPasswordParams(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32})),
		client: client, clock: clock,
		sys:   viewer.SystemContext(context.Background()),
		admin: viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Instance, Actor: "key_admin"}),
	}
}

func (f *mfaFixture) user(t *testing.T, email string) *ent.User {
	t.Helper()
	return f.client.User.Create().SetEmail(email).SaveX(f.sys)
}

// enroll begins and confirms an authenticator app for u and returns its
// key. The confirming code uses the current step.
func (f *mfaFixture) enroll(t *testing.T, u *ent.User) (*ent.TOTPCredential, []byte) {
	t.Helper()
	e, err := f.svc.BeginTOTP(context.Background(), u.ID)
	must(t, err)
	key, err := totp.DecodeSecret(e.Secret)
	must(t, err)
	ok, err := f.svc.ConfirmTOTP(context.Background(), u.ID, e.Credential.ID, totp.Code(key, totp.Step(f.clock.Now()), totp.Digits))
	must(t, err)
	if !ok {
		t.Fatal("ConfirmTOTP refused the current code")
	}
	return e.Credential, key
}

func (f *mfaFixture) code(key []byte) string {
	return totp.Code(key, totp.Step(f.clock.Now()), totp.Digits)
}

func (f *mfaFixture) audits(t *testing.T, action string) int {
	t.Helper()
	return f.client.AuditEvent.Query().Where(auditevent.Action(action)).CountX(f.sys)
}

func TestTOTPLifecycle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newMFAFixture(t, db)
		ctx := context.Background()
		ada := f.user(t, "ada@example.com")

		e, err := f.svc.BeginTOTP(ctx, ada.ID)
		must(t, err)
		if !regexp.MustCompile(`^otpauth://totp/Gatehouse:ada@example.com\?`).MatchString(e.URI) {
			t.Fatalf("key URI %s", e.URI)
		}
		key, err := totp.DecodeSecret(e.Secret)
		must(t, err)
		if sf, _ := f.svc.SecondFactors(ctx, ada.ID); sf.Any() {
			t.Fatalf("an unconfirmed enrollment counts: %+v", sf)
		}
		if ok, err := f.svc.VerifyTOTP(ctx, ada.ID, f.code(key)); ok || err != nil {
			t.Fatalf("VerifyTOTP before confirmation = %v, %v", ok, err)
		}
		wrong := totp.Code(key, totp.Step(f.clock.Now())+5, totp.Digits)
		if ok, err := f.svc.ConfirmTOTP(ctx, ada.ID, e.Credential.ID, wrong); ok || err != nil {
			t.Fatalf("ConfirmTOTP(wrong) = %v, %v", ok, err)
		}
		grace := f.user(t, "grace@example.com")
		if _, err := f.svc.ConfirmTOTP(ctx, grace.ID, e.Credential.ID, f.code(key)); err == nil {
			t.Fatal("another user confirmed ada's enrollment")
		}
		ok, err := f.svc.ConfirmTOTP(ctx, ada.ID, e.Credential.ID, f.code(key))
		if !ok || err != nil {
			t.Fatalf("ConfirmTOTP = %v, %v", ok, err)
		}
		if n := f.audits(t, tenants.ActionTOTPEnroll); n != 1 {
			t.Fatalf("%d enroll events", n)
		}
		// The confirming code's step is used: the same code is refused.
		if ok, err := f.svc.VerifyTOTP(ctx, ada.ID, f.code(key)); ok || !errors.Is(err, tenants.ErrOTPReplayed) {
			t.Fatalf("VerifyTOTP(confirming code) = %v, %v; want replayed", ok, err)
		}
		// The next step's code is accepted once, early (+1 step).
		next := totp.Code(key, totp.Step(f.clock.Now())+1, totp.Digits)
		if ok, err := f.svc.VerifyTOTP(ctx, ada.ID, next); !ok || err != nil {
			t.Fatalf("VerifyTOTP(next step) = %v, %v", ok, err)
		}
		f.clock.Advance(totp.Period)
		if ok, err := f.svc.VerifyTOTP(ctx, ada.ID, next); ok || !errors.Is(err, tenants.ErrOTPReplayed) {
			t.Fatalf("VerifyTOTP(next, again in its own step) = %v, %v; want replayed", ok, err)
		}
		// A code of an earlier step than the last accepted is refused
		// even though it is within the window.
		prev := totp.Code(key, totp.Step(f.clock.Now())-1, totp.Digits)
		if ok, _ := f.svc.VerifyTOTP(ctx, ada.ID, prev); ok {
			t.Fatal("a step before the last accepted one was accepted")
		}
		f.clock.Advance(totp.Period)
		if ok, err := f.svc.VerifyTOTP(ctx, ada.ID, f.code(key)); !ok || err != nil {
			t.Fatalf("VerifyTOTP(later step) = %v, %v", ok, err)
		}
		if ok, err := f.svc.VerifyTOTP(ctx, ada.ID, "12345x"); ok || err != nil {
			t.Fatalf("VerifyTOTP(garbage) = %v, %v", ok, err)
		}
		if ok, _ := f.svc.VerifyTOTP(ctx, grace.ID, f.code(key)); ok {
			t.Fatal("ada's code signed grace in")
		}

		list, err := f.svc.ListTOTP(ctx, ada.ID)
		must(t, err)
		if len(list) != 1 || list[0].ID != e.Credential.ID {
			t.Fatalf("ListTOTP = %v", list)
		}
		if _, err := f.svc.RenameTOTP(ctx, ada.ID, e.Credential.ID, "  "); err == nil {
			t.Fatal("empty name accepted")
		}
		if _, err := f.svc.RenameTOTP(ctx, grace.ID, e.Credential.ID, "Mine"); !errors.Is(err, tenants.ErrNotFound) {
			t.Fatalf("grace renamed ada's app: %v", err)
		}
		c, err := f.svc.RenameTOTP(ctx, ada.ID, e.Credential.ID, "Phone")
		must(t, err)
		if c.Name != "Phone" || f.audits(t, tenants.ActionTOTPRename) != 1 {
			t.Fatalf("rename: %q, %d events", c.Name, f.audits(t, tenants.ActionTOTPRename))
		}
		if err := f.svc.RemoveTOTP(ctx, grace.ID, e.Credential.ID); !errors.Is(err, tenants.ErrNotFound) {
			t.Fatalf("grace removed ada's app: %v", err)
		}
		must(t, f.svc.RemoveTOTP(ctx, ada.ID, e.Credential.ID))
		if f.audits(t, tenants.ActionTOTPRemove) != 1 {
			t.Fatal("no remove event")
		}
		ev := f.client.AuditEvent.Query().Where(auditevent.Action(tenants.ActionTOTPRemove)).OnlyX(f.sys)
		if ev.Actor != string(ada.ID) || ev.ActorType != "user" {
			t.Fatalf("remove event by %s %s", ev.ActorType, ev.Actor)
		}
		if sf, _ := f.svc.SecondFactors(ctx, ada.ID); sf.Any() {
			t.Fatalf("second factors after removal: %+v", sf)
		}
	})
}

// TestTOTPSecretSealed: the stored secret is sealed and bound to its
// credential and user; moved to another credential it no longer opens.
func TestTOTPSecretSealed(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newMFAFixture(t, db)
		ctx := context.Background()
		ada, grace := f.user(t, "ada@example.com"), f.user(t, "grace@example.com")
		ca, keyA := f.enroll(t, ada)
		cg, _ := f.enroll(t, grace)
		row := f.client.TOTPCredential.GetX(f.sys, ca.ID)
		if len(row.SecretSealed) <= len(keyA) || string(row.SecretSealed) == string(keyA) {
			t.Fatal("secret stored in the clear")
		}
		// Give grace's credential ada's sealed secret: it must not open.
		f.client.TOTPCredential.UpdateOneID(cg.ID).SetSecretSealed(row.SecretSealed).ExecX(f.sys)
		f.clock.Advance(totp.Period)
		if ok, err := f.svc.VerifyTOTP(ctx, grace.ID, f.code(keyA)); ok || err == nil {
			t.Fatalf("a sealed secret moved to another user verified: %v, %v", ok, err)
		}
		// Without a sealer, TOTP is unavailable rather than unsealed.
		plain := tenants.NewService(f.client, tenants.WithClock(f.clock.Now))
		if _, err := plain.BeginTOTP(ctx, ada.ID); !errors.Is(err, tenants.ErrNoSealer) {
			t.Fatalf("BeginTOTP without sealer: %v", err)
		}
	})
}

// raceSpend runs n attempts of spend at once, every one held after its
// check until all have checked (a barrier), and counts the successes.
func raceSpend(t *testing.T, svc *tenants.Service, n int, spend func() (bool, error)) (ok int, errs []error) {
	t.Helper()
	var arrived sync.WaitGroup
	arrived.Add(n)
	release := make(chan struct{})
	tenants.SetBeforeSpend(svc, func() {
		arrived.Done()
		<-release
	})
	defer tenants.SetBeforeSpend(svc, nil)
	var mu sync.Mutex
	var done sync.WaitGroup
	for range n {
		done.Add(1)
		go func() {
			defer done.Done()
			good, err := spend()
			mu.Lock()
			defer mu.Unlock()
			if good {
				ok++
			}
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	arrived.Wait() // every attempt has checked its code and none has spent it
	close(release)
	done.Wait()
	return ok, errs
}

// TestTOTPParallelReplay: one code sent 60 times at once, every attempt
// past its check before any spends: exactly one succeeds (ATO-05 c).
func TestTOTPParallelReplay(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newMFAFixture(t, db)
		ada := f.user(t, "ada@example.com")
		_, key := f.enroll(t, ada)
		f.clock.Advance(totp.Period)
		code := f.code(key)
		ok, errs := raceSpend(t, f.svc, 60, func() (bool, error) { return f.svc.VerifyTOTP(context.Background(), ada.ID, code) })
		if ok != 1 {
			t.Fatalf("%d of 60 parallel verifications succeeded, want 1", ok)
		}
		for _, err := range errs {
			if !errors.Is(err, tenants.ErrOTPReplayed) {
				t.Fatalf("a losing attempt failed with %v, want ErrOTPReplayed", err)
			}
		}
		if len(errs) != 59 {
			t.Fatalf("%d replay refusals, want 59", len(errs))
		}
	})
}

var recoveryFormat = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)

func TestRecoveryCodes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newMFAFixture(t, db)
		ctx := context.Background()
		ada, grace := f.user(t, "ada@example.com"), f.user(t, "grace@example.com")
		codes, err := f.svc.GenerateRecoveryCodes(ctx, ada.ID)
		must(t, err)
		seen := map[string]bool{}
		for _, c := range codes {
			if !recoveryFormat.MatchString(c) || seen[c] {
				t.Fatalf("code %q: wrong format or repeated", c)
			}
			seen[c] = true
		}
		if len(codes) != 10 {
			t.Fatalf("%d codes", len(codes))
		}
		for _, rc := range f.client.RecoveryCode.Query().AllX(f.sys) {
			if seen[rc.CodeHash] || !strings.HasPrefix(rc.CodeHash, "$argon2id$") {
				t.Fatal("a recovery code is stored in the clear")
			}
		}
		if n, _ := f.svc.RecoveryCodesLeft(ctx, ada.ID); n != 10 {
			t.Fatalf("%d left", n)
		}
		if ok, _ := f.svc.UseRecoveryCode(ctx, grace.ID, codes[0]); ok {
			t.Fatal("ada's code worked for grace")
		}
		for _, bad := range []string{"", "00000-00000", "x", codes[0] + "0"} {
			if ok, err := f.svc.UseRecoveryCode(ctx, ada.ID, bad); ok || err != nil {
				t.Fatalf("UseRecoveryCode(%q) = %v, %v", bad, ok, err)
			}
		}
		// Typed in capitals, without the hyphen: still the code.
		typed := upper(codes[0][:5] + " " + codes[0][6:])
		if ok, err := f.svc.UseRecoveryCode(ctx, ada.ID, typed); !ok || err != nil {
			t.Fatalf("UseRecoveryCode(%q) = %v, %v", typed, ok, err)
		}
		if ok, _ := f.svc.UseRecoveryCode(ctx, ada.ID, codes[0]); ok {
			t.Fatal("a recovery code was used twice")
		}
		if n, _ := f.svc.RecoveryCodesLeft(ctx, ada.ID); n != 9 {
			t.Fatalf("%d left after one use", n)
		}
		if f.audits(t, tenants.ActionRecoveryCodeUse) != 1 || f.audits(t, tenants.ActionRecoveryCodesGenerate) != 1 {
			t.Fatal("missing audit events")
		}
		// A new set replaces the old one.
		fresh, err := f.svc.GenerateRecoveryCodes(ctx, ada.ID)
		must(t, err)
		if ok, _ := f.svc.UseRecoveryCode(ctx, ada.ID, codes[1]); ok {
			t.Fatal("an old code survived regeneration")
		}
		if n, _ := f.svc.RecoveryCodesLeft(ctx, ada.ID); n != 10 {
			t.Fatalf("%d left after regeneration", n)
		}
		ok, errs := raceSpend(t, f.svc, 60, func() (bool, error) { return f.svc.UseRecoveryCode(context.Background(), ada.ID, fresh[3]) })
		if ok != 1 || len(errs) != 0 {
			t.Fatalf("%d of 60 parallel uses succeeded (errors %v), want 1", ok, errs)
		}
	})
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// TestLastSecondFactor: while an organization of the user requires MFA,
// the user's last second factor cannot be removed; another one (an app
// or a passkey) lets it go.
func TestLastSecondFactor(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newMFAFixture(t, db)
		ctx := context.Background()
		acme, err := f.svc.CreateOrganization(f.admin, tenants.CreateOrganizationInput{Name: "Acme", Slug: "acme"})
		must(t, err)
		ada, grace := f.user(t, "ada@example.com"), f.user(t, "grace@example.com")
		f.client.Membership.Create().SetUserID(ada.ID).SetOrganizationID(acme.ID).ExecX(f.sys)
		_, err = f.svc.UpdateOrganizationPolicy(f.admin, tenants.UpdateOrganizationPolicyInput{OrganizationID: acme.ID, MfaRequired: ptr(true)})
		must(t, err)

		one, _ := f.enroll(t, ada)
		if err := f.svc.RemoveTOTP(ctx, ada.ID, one.ID); !errors.Is(err, tenants.ErrForbidden) {
			t.Fatalf("removing the last factor: %v, want ErrForbidden", err)
		}
		f.clock.Advance(totp.Period)
		two, _ := f.enroll(t, ada)
		must(t, f.svc.RemoveTOTP(ctx, ada.ID, one.ID))
		f.client.Passkey.Create().SetUserID(ada.ID).SetCredentialID([]byte{1, 2, 3}).SetPublicKey([]byte{4}).SetRpID("localhost").ExecX(f.sys)
		must(t, f.svc.RemoveTOTP(ctx, ada.ID, two.ID))
		sf, err := f.svc.SecondFactors(ctx, ada.ID)
		must(t, err)
		if sf != (tenants.SecondFactors{Passkeys: 1}) {
			t.Fatalf("SecondFactors = %+v", sf)
		}
		// Grace belongs to no organization that requires MFA.
		g, _ := f.enroll(t, grace)
		must(t, f.svc.RemoveTOTP(ctx, grace.ID, g.ID))
	})
}

// TestResealTOTPSecrets: after a master-key rotation every authenticator
// app's secret is re-sealed once under the new key (a second run changes
// nothing), and its codes verify with the new key alone; a secret that
// changed between the read and the write is not overwritten.
func TestResealTOTPSecrets(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newMFAFixture(t, db)
		ada, grace := f.user(t, "ada@example.com"), f.user(t, "grace@example.com")
		_, keyA := f.enroll(t, ada)
		_, keyG := f.enroll(t, grace)

		oldKey, newKey := make([]byte, seal.KeySize), make([]byte, seal.KeySize)
		oldKey[0], newKey[0] = 7, 8 // newMFAFixture's key, and the next one
		rotating := tenants.NewService(f.client, tenants.WithClock(f.clock.Now), tenants.WithSealer(must1(seal.New(newKey, oldKey))))
		for run, want := range []int{2, 0} {
			if n, err := rotating.ResealTOTPSecrets(f.sys); err != nil || n != want {
				t.Fatalf("run %d: re-sealed %d TOTP secrets (%v), want %d", run+1, n, err, want)
			}
		}
		after := tenants.NewService(f.client, tenants.WithClock(f.clock.Now), tenants.WithSealer(must1(seal.New(newKey))))
		f.clock.Advance(totp.Period)
		for _, c := range []struct {
			u   *ent.User
			key []byte
		}{{ada, keyA}, {grace, keyG}} {
			if ok, err := after.VerifyTOTP(context.Background(), c.u.ID, f.code(c.key)); !ok || err != nil {
				t.Errorf("%s's code under the new master key alone: %v, %v", c.u.Email, ok, err)
			}
		}
		// Under the old key alone the re-sealed secrets no longer open.
		before := tenants.NewService(f.client, tenants.WithClock(f.clock.Now), tenants.WithSealer(must1(seal.New(oldKey))))
		f.clock.Advance(totp.Period)
		if ok, err := before.VerifyTOTP(context.Background(), ada.ID, f.code(keyA)); ok || err == nil {
			t.Errorf("old master key still opens a re-sealed secret: %v, %v", ok, err)
		}
	})
}
