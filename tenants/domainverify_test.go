package tenants_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/ent/domainevent"
	"github.com/gatehouse-id/gatehouse/internal/dnsresolver"
	"github.com/gatehouse-id/gatehouse/internal/dnstest"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// domainEnv is a service whose resolver asks an in-process DNS server,
// on a clock the test owns.
type domainEnv struct {
	t      *testing.T
	client *ent.Client
	svc    *tenants.Service
	dns    *dnstest.Server
	clock  *testkit.Clock
	sys    context.Context
}

func newDomainEnv(t *testing.T, db testdb.Database) *domainEnv {
	t.Helper()
	srv := dnstest.Start(t)
	r, err := dnsresolver.New(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	clock := testkit.NewClock()
	client := db.Client()
	return &domainEnv{t: t, client: client, dns: srv, clock: clock, sys: viewer.SystemContext(context.Background()),
		svc: tenants.NewService(client, tenants.WithClock(clock.Now),
			tenants.WithDomainChecks(tenants.DomainChecks{Resolver: r, LookupTimeout: 5 * time.Second}))}
}

// claim creates organization slug and its claim on name.
func (e *domainEnv) claim(slug, name string) *ent.Domain {
	e.t.Helper()
	o, err := e.svc.CreateOrganization(e.sys, tenants.CreateOrganizationInput{Name: slug, Slug: slug})
	if err != nil {
		e.t.Fatal(err)
	}
	d, err := e.svc.AddDomain(e.sys, tenants.AddDomainInput{OrganizationID: o.ID, Domain: name})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// publish puts the tokens of claims at their challenge name.
func (e *domainEnv) publish(claims ...*ent.Domain) {
	var values []string
	for _, d := range claims {
		values = append(values, d.TxtToken)
	}
	e.dns.SetTXT(tenants.DomainTXTPrefix+claims[0].Domain, values...)
}

func (e *domainEnv) get(d *ent.Domain) *ent.Domain {
	e.t.Helper()
	return e.client.Domain.GetX(e.sys, d.ID)
}

// audits returns the metadata of d's audit events with action, oldest first.
func (e *domainEnv) audits(d *ent.Domain, action string) []map[string]any {
	e.t.Helper()
	evs := e.client.AuditEvent.Query().Where(auditevent.TargetID(string(d.ID)), auditevent.Action(action)).
		Order(auditevent.ByID()).AllX(e.sys)
	out := make([]map[string]any, len(evs))
	for i, ev := range evs {
		out[i] = ev.Metadata
	}
	return out
}

func wantVerificationError(t *testing.T, err error, contains string) {
	t.Helper()
	var ve *tenants.VerificationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Reason, contains) {
		t.Fatalf("err = %v, want a VerificationError saying %q", err, contains)
	}
}

// TestVerifyDomain: no record, then a wrong token, each recorded as
// FAILED with the DNS reason audited; then the right record appears
// among others and the claim is VERIFIED, audited and announced in the
// outbox; verifying again changes nothing.
func TestVerifyDomain(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newDomainEnv(t, db)
		d := e.claim("initech", "initech.example")

		_, err := e.svc.VerifyDomain(e.sys, d.ID)
		wantVerificationError(t, err, "no TXT record at _gatehouse-challenge.initech.example.")
		if got := e.get(d); got.VerificationState != domain.VerificationStateFAILED || got.LastCheckedAt == nil {
			t.Fatalf("after no record: %s checked %v, want FAILED and checked", got.VerificationState, got.LastCheckedAt)
		}

		e.dns.SetTXT("_gatehouse-challenge.initech.example", "gatehouse-verification=not-the-token")
		_, err = e.svc.VerifyDomain(e.sys, d.ID)
		wantVerificationError(t, err, "is this domain's token")
		// The token at the apex does not count: only the challenge name is read.
		e.dns.SetTXT("initech.example", d.TxtToken)
		_, err = e.svc.VerifyDomain(e.sys, d.ID)
		wantVerificationError(t, err, "is this domain's token")
		failed := e.audits(d, "domain.verify_failed")
		if len(failed) != 3 || !strings.Contains(failed[0]["reason"].(string), "no TXT record") ||
			!strings.Contains(failed[1]["reason"].(string), "none of the 1 TXT records") {
			t.Fatalf("domain.verify_failed events: %v", failed)
		}

		// The record appears later, next to another one.
		e.dns.SetTXT("_gatehouse-challenge.initech.example", "v=other", d.TxtToken)
		e.clock.Advance(time.Minute)
		got, err := e.svc.VerifyDomain(e.sys, d.ID)
		if err != nil {
			t.Fatalf("VerifyDomain with the record published: %v", err)
		}
		if got.VerificationState != domain.VerificationStateVERIFIED || got.VerifiedAt == nil ||
			!got.VerifiedAt.Equal(e.clock.Now()) || got.MissingSince != nil {
			t.Fatalf("verified domain: %+v, want VERIFIED at %v", got, e.clock.Now())
		}
		if n := len(e.audits(d, "domain.verify")); n != 1 {
			t.Fatalf("%d domain.verify events, want 1", n)
		}
		evs := e.client.DomainEvent.Query().AllX(e.sys)
		if len(evs) != 1 || evs[0].Type != tenants.DomainEventVerified || evs[0].DomainID != d.ID ||
			evs[0].OrganizationID != d.OrganizationID || evs[0].DeliveredAt != nil || evs[0].Payload["domain"] != "initech.example" {
			t.Fatalf("outbox after verification: %+v", evs)
		}

		// Again: still VERIFIED, verified_at unchanged, nothing new announced.
		e.clock.Advance(time.Minute)
		again, err := e.svc.VerifyDomain(e.sys, d.ID)
		if err != nil || again.VerificationState != domain.VerificationStateVERIFIED || !again.VerifiedAt.Equal(*got.VerifiedAt) ||
			!again.LastCheckedAt.Equal(e.clock.Now()) {
			t.Fatalf("verifying again: %+v, %v", again, err)
		}
		if n := e.client.DomainEvent.Query().CountX(e.sys); n != 1 {
			t.Fatalf("%d outbox rows after verifying again, want 1", n)
		}
	})
}

// TestVerifyDomainFirstOrganizationWins: two organizations claim a name
// and both publish their tokens; the first to verify owns it, the other
// is refused without learning who, and may verify once the owner lets go.
func TestVerifyDomainFirstOrganizationWins(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newDomainEnv(t, db)
		a := e.claim("initech", "initech.example")
		b := e.claim("hooli", "initech.example")
		e.publish(a, b)

		if _, err := e.svc.VerifyDomain(e.sys, a.ID); err != nil {
			t.Fatalf("first verification: %v", err)
		}
		_, err := e.svc.VerifyDomain(e.sys, b.ID)
		var ce *tenants.ConflictError
		if !errors.As(err, &ce) || ce.Field != "domain" {
			t.Fatalf("second organization: err = %v, want a ConflictError on domain", err)
		}
		owner := e.client.Organization.GetX(e.sys, a.OrganizationID)
		for _, secret := range []string{string(owner.ID), owner.Slug, owner.Name} {
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("refusal %q reveals the owner (%s)", err, secret)
			}
		}
		if got := e.get(b); got.VerificationState != domain.VerificationStateFAILED {
			t.Fatalf("refused claim is %s, want FAILED", got.VerificationState)
		}
		if f := e.audits(b, "domain.verify_failed"); len(f) != 1 || !strings.Contains(f[0]["reason"].(string), "another organization") {
			t.Fatalf("refusal audit: %v", f)
		}

		if err := e.svc.RemoveDomain(e.sys, a.ID); err != nil {
			t.Fatal(err)
		}
		// The owner's removal ends its ownership, announced like an unverification.
		evs := e.client.DomainEvent.Query().Where(domainevent.Type(tenants.DomainEventUnverified)).AllX(e.sys)
		if len(evs) != 1 || evs[0].DomainID != a.ID || evs[0].Payload["state"] != "REMOVED" {
			t.Fatalf("outbox after removing the verified claim: %+v", evs)
		}
		if got, err := e.svc.VerifyDomain(e.sys, b.ID); err != nil || got.VerificationState != domain.VerificationStateVERIFIED {
			t.Fatalf("after the owner removed its claim: %v, %v", got, err)
		}
	})
}

// TestVerifyDomainRace: 60 verifications of two competing claims, released
// at once, leave exactly one claim VERIFIED; every call of the winning
// organization succeeds and every call of the other is refused.
func TestVerifyDomainRace(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newDomainEnv(t, db)
		claims := []*ent.Domain{e.claim("initech", "initech.example"), e.claim("hooli", "initech.example")}
		e.publish(claims...)

		const n = 60
		start := make(chan struct{})
		var ready, done sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				ready.Done()
				<-start
				_, errs[i] = e.svc.VerifyDomain(e.sys, claims[i%2].ID)
			}()
		}
		ready.Wait()
		close(start)
		done.Wait()

		verified := e.client.Domain.Query().Where(domain.VerificationStateEQ(domain.VerificationStateVERIFIED)).AllX(e.sys)
		if len(verified) != 1 {
			t.Fatalf("%d VERIFIED claims after the race, want 1", len(verified))
		}
		for i, err := range errs {
			won := claims[i%2].ID == verified[0].ID
			var ce *tenants.ConflictError
			switch {
			case won && err != nil:
				t.Errorf("call %d of the winning claim: %v", i, err)
			case !won && !errors.As(err, &ce):
				t.Errorf("call %d of the losing claim: err = %v, want a ConflictError", i, err)
			}
		}
		if n := e.client.DomainEvent.Query().CountX(e.sys); n != 1 {
			t.Errorf("%d domain.verified outbox rows, want 1", n)
		}
	})
}

// TestRecheckDomains: a VERIFIED domain whose record disappears is
// flagged at its next due re-check, stays VERIFIED through the grace
// period, and is then unverified, audited and announced; one whose record
// comes back loses its flag; a failed lookup decides nothing; domains
// checked recently are not looked up.
func TestRecheckDomains(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newDomainEnv(t, db)
		gone := e.claim("initech", "initech.example")
		back := e.claim("hooli", "hooli.example")
		flaky := e.claim("umbrella", "umbrella.example")
		for _, d := range []*ent.Domain{gone, back, flaky} {
			e.publish(d)
			if _, err := e.svc.VerifyDomain(e.sys, d.ID); err != nil {
				t.Fatal(err)
			}
		}
		recheck := func(want tenants.RecheckReport) {
			t.Helper()
			got, err := e.svc.RecheckDomains(e.sys, e.clock.Now())
			if err != nil || got != want {
				t.Fatalf("RecheckDomains at +%v = %+v, %v; want %+v", e.clock.Now(), got, err, want)
			}
		}

		// Just verified: nothing is due.
		queries := e.dns.Queries()
		recheck(tenants.RecheckReport{})
		if e.dns.Queries() != queries {
			t.Fatal("RecheckDomains looked up domains checked a moment ago")
		}

		e.dns.SetTXT("_gatehouse-challenge.initech.example")
		e.dns.SetTXT("_gatehouse-challenge.hooli.example")
		e.dns.Fail("_gatehouse-challenge.umbrella.example")
		e.clock.Advance(tenants.DefaultDomainRecheckAfter + time.Minute)
		flaggedAt := e.clock.Now()
		recheck(tenants.RecheckReport{Checked: 3, Unknown: 1, Flagged: 2})
		if got := e.get(gone); got.VerificationState != domain.VerificationStateVERIFIED || got.MissingSince == nil ||
			!got.MissingSince.Equal(flaggedAt) {
			t.Fatalf("flagged domain: %+v", got)
		}
		if got := e.get(flaky); got.MissingSince != nil || got.VerificationState != domain.VerificationStateVERIFIED {
			t.Fatalf("a failed lookup flagged %+v", got)
		}
		if m := e.audits(gone, "domain.record_missing"); len(m) != 1 || !strings.Contains(m[0]["reason"].(string), "no TXT record") {
			t.Fatalf("domain.record_missing: %v", m)
		}

		// hooli's record is back before the grace period ends.
		e.publish(back)
		e.dns.SetTXT("_gatehouse-challenge.umbrella.example", flaky.TxtToken)
		e.clock.Advance(tenants.DefaultDomainRecheckAfter)
		recheck(tenants.RecheckReport{Checked: 3, Restored: 1})
		if got := e.get(back); got.MissingSince != nil || len(e.audits(back, "domain.record_restored")) != 1 {
			t.Fatalf("restored domain: %+v", got)
		}

		// Still inside the grace period: flagged, VERIFIED.
		e.clock.Advance(tenants.DefaultDomainRecheckAfter)
		recheck(tenants.RecheckReport{Checked: 3})
		if got := e.get(gone); got.VerificationState != domain.VerificationStateVERIFIED {
			t.Fatalf("unverified after %v, before the grace period", e.clock.Now().Sub(flaggedAt))
		}

		// The grace period has passed since the record was first missed.
		e.clock.Advance(tenants.DefaultDomainGrace - 2*tenants.DefaultDomainRecheckAfter)
		recheck(tenants.RecheckReport{Checked: 3, Unverified: 1})
		got := e.get(gone)
		if got.VerificationState != domain.VerificationStateFAILED || got.VerifiedAt != nil || got.MissingSince != nil {
			t.Fatalf("after the grace period: %+v, want FAILED", got)
		}
		if u := e.audits(gone, "domain.unverify"); len(u) != 1 || !strings.Contains(u[0]["reason"].(string), "no TXT record") {
			t.Fatalf("domain.unverify: %v", u)
		}
		evs := e.client.DomainEvent.Query().Where(domainevent.Type(tenants.DomainEventUnverified)).AllX(e.sys)
		if len(evs) != 1 || evs[0].DomainID != gone.ID || evs[0].OrganizationID != gone.OrganizationID ||
			evs[0].DeliveredAt != nil || evs[0].Payload["state"] != "FAILED" || !evs[0].CreatedAt.Equal(e.clock.Now()) {
			t.Fatalf("domain.unverified outbox rows: %+v", evs)
		}

		// The unverified domain is no longer re-checked; the others go on.
		e.clock.Advance(tenants.DefaultDomainRecheckAfter)
		recheck(tenants.RecheckReport{Checked: 2})
	})
}

// TestRecheckDomainsIsInstanceLevel: an organization's viewer may not run
// the instance's re-check.
func TestRecheckDomainsIsInstanceLevel(t *testing.T) {
	db := testdb.All(t)[0]
	e := newDomainEnv(t, db)
	d := e.claim("initech", "initech.example")
	scoped := viewer.NewContext(context.Background(), viewer.ScopedTo("key_test", d.OrganizationID))
	if _, err := e.svc.RecheckDomains(scoped, e.clock.Now()); !errors.Is(err, tenants.ErrForbidden) {
		t.Fatalf("RecheckDomains as an organization: err = %v, want ErrForbidden", err)
	}
}

// TestVerifyDomainOfAnotherOrganization: another organization's viewer
// cannot verify a claim, nor learn it exists.
func TestVerifyDomainOfAnotherOrganization(t *testing.T) {
	db := testdb.All(t)[0]
	e := newDomainEnv(t, db)
	d := e.claim("initech", "initech.example")
	other := e.claim("hooli", "hooli.example")
	e.publish(d)
	scoped := viewer.NewContext(context.Background(), viewer.ScopedTo("key_test", other.OrganizationID))
	if _, err := e.svc.VerifyDomain(scoped, d.ID); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("VerifyDomain of another organization's claim: err = %v, want ErrNotFound", err)
	}
	own := viewer.NewContext(context.Background(), viewer.ScopedTo("key_test", d.OrganizationID))
	if got, err := e.svc.VerifyDomain(own, d.ID); err != nil || got.VerificationState != domain.VerificationStateVERIFIED {
		t.Fatalf("VerifyDomain by its organization: %v, %v", got, err)
	}
}

// signalWriter closes seen when a log line holds want.
type signalWriter struct {
	want string
	once sync.Once
	seen chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// TestRunDomainChecks: the background runner checks every due domain at
// start, pass after pass when more than a batch is due (c, the last by
// id, is in the second pass of two and has lost its record), and returns
// when its context ends.
func TestRunDomainChecks(t *testing.T) {
	db := testdb.All(t)[0]
	e := newDomainEnv(t, db)
	var claims []*ent.Domain
	for _, slug := range []string{"a", "b", "c"} {
		d := e.claim(slug, slug+".example")
		e.publish(d)
		if _, err := e.svc.VerifyDomain(e.sys, d.ID); err != nil {
			t.Fatal(err)
		}
		claims = append(claims, d)
	}
	e.dns.SetTXT(tenants.DomainTXTPrefix + "c.example")
	r, err := dnsresolver.New(e.dns.Addr())
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(tenants.DefaultDomainRecheckAfter + time.Minute)
	log := &signalWriter{want: "checked=1 unknown=0 flagged=1", seen: make(chan struct{})}
	svc := tenants.NewService(e.client, tenants.WithClock(e.clock.Now), tenants.WithLogger(slog.New(slog.NewTextHandler(log, nil))),
		tenants.WithDomainChecks(tenants.DomainChecks{Resolver: r, Batch: 2}))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.RunDomainChecks(ctx, time.Hour); close(done) }()
	<-log.seen
	cancel()
	<-done
	for _, d := range claims {
		if got := e.get(d); got.LastCheckedAt == nil || !got.LastCheckedAt.Equal(e.clock.Now()) {
			t.Errorf("%s last checked %v, want %v", d.Domain, got.LastCheckedAt, e.clock.Now())
		}
	}
	if got := e.get(claims[2]); got.MissingSince == nil {
		t.Errorf("c.example not flagged: %+v", got)
	}
}
