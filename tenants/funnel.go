package tenants

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/funnelcount"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// The sign-up and sign-in funnel: how many times each step happened per
// UTC day, organization and application (funnel_counts), so product teams
// can watch conversion and the passkey rollout without a row per event.
// The hosted pages record; GraphQL's funnel query reads.

// FunnelEvent is one step of the funnel.
type FunnelEvent string

// The funnel's events. Sign-ins count per method: the one that completed
// the sign-in, or the one that failed.
const (
	FunnelSignupStarted   FunnelEvent = "signup.started"
	FunnelSignupVerified  FunnelEvent = "signup.verified"
	FunnelSignupCompleted FunnelEvent = "signup.completed"
	FunnelPasskeyOffered  FunnelEvent = "passkey.offered"
	FunnelPasskeyEnrolled FunnelEvent = "passkey.enrolled"
	FunnelMFAEnrolled     FunnelEvent = "mfa.enrolled"

	FunnelLoginSucceededPassword     FunnelEvent = "login.succeeded.password"
	FunnelLoginSucceededPasskey      FunnelEvent = "login.succeeded.passkey"
	FunnelLoginSucceededEmail        FunnelEvent = "login.succeeded.email"
	FunnelLoginSucceededSSO          FunnelEvent = "login.succeeded.sso"
	FunnelLoginSucceededOTP          FunnelEvent = "login.succeeded.otp"
	FunnelLoginSucceededRecoveryCode FunnelEvent = "login.succeeded.recovery_code"
	FunnelLoginFailedPassword        FunnelEvent = "login.failed.password"
	FunnelLoginFailedPasskey         FunnelEvent = "login.failed.passkey"
	FunnelLoginFailedEmail           FunnelEvent = "login.failed.email"
	FunnelLoginFailedSSO             FunnelEvent = "login.failed.sso"
	FunnelLoginFailedOTP             FunnelEvent = "login.failed.otp"
	FunnelLoginFailedRecoveryCode    FunnelEvent = "login.failed.recovery_code"

	FunnelRecoveryStarted   FunnelEvent = "recovery.started"
	FunnelRecoveryCompleted FunnelEvent = "recovery.completed"
)

// FunnelEvents lists every funnel event, in funnel order.
var FunnelEvents = []FunnelEvent{
	FunnelSignupStarted, FunnelSignupVerified, FunnelSignupCompleted,
	FunnelPasskeyOffered, FunnelPasskeyEnrolled, FunnelMFAEnrolled,
	FunnelLoginSucceededPassword, FunnelLoginSucceededPasskey, FunnelLoginSucceededEmail,
	FunnelLoginSucceededSSO, FunnelLoginSucceededOTP, FunnelLoginSucceededRecoveryCode,
	FunnelLoginFailedPassword, FunnelLoginFailedPasskey, FunnelLoginFailedEmail,
	FunnelLoginFailedSSO, FunnelLoginFailedOTP, FunnelLoginFailedRecoveryCode,
	FunnelRecoveryStarted, FunnelRecoveryCompleted,
}

// Valid reports whether e is one of FunnelEvents.
func (e FunnelEvent) Valid() bool { return slices.Contains(FunnelEvents, e) }

// funnelDay is the layout of funnel_counts.day (UTC).
const funnelDay = "2006-01-02"

// MaxFunnelDays is the longest range Funnel answers, in days (a leap year).
const MaxFunnelDays = 366

// maxFunnelRows bounds one Funnel answer: a range that holds more rows must
// be narrowed (fewer days, or one organization).
const maxFunnelRows = 10000

// addFunnelSQL adds $6 to a day's counter, creating it at $6: one
// statement, atomic on SQLite and PostgreSQL alike (both take ON CONFLICT
// on the unique index), so two nodes flushing one counter at once never
// lose a count.
const addFunnelSQL = `INSERT INTO "funnel_counts" ("id", "day", "organization_id", "application_id", "event", "count")
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT ("organization_id", "day", "application_id", "event") DO UPDATE SET "count" = "funnel_counts"."count" + $6`

// funnelKey names one counter.
type funnelKey struct {
	day, org, app string
	event         FunnelEvent
}

// funnelBuffer holds the counts recorded since the last flush. Every
// sign-in of an application's users counts on the same few rows; written
// one statement per event, those rows' locks serialized the sign-ins of
// a busy day (PostgreSQL). Counted in memory and added once a second, a
// row takes one statement per flush whatever the traffic. What is lost:
// the counts of the last second of a node that dies without shutting
// down (the counts are statistics, not a ledger), and a Funnel read on
// another node sees this node's counts up to a flush later.
type funnelBuffer struct {
	mu     sync.Mutex
	counts map[funnelKey]int64
}

// RecordFunnel counts one e today (UTC, by the service's clock) for
// organizationID and applicationID (the application's id, app_…); either
// may be "" when the step had none. An unknown event is an InputError. It
// needs no viewer: the hosted pages record for anonymous browsers, and a
// count reveals nothing by itself. The count reaches the database at the
// next FlushFunnel (funnelBuffer).
func (s *Service) RecordFunnel(ctx context.Context, e FunnelEvent, organizationID, applicationID string) error {
	if !e.Valid() {
		return invalid("event", "%q is not a funnel event", e)
	}
	for _, f := range [][2]string{{"organizationID", organizationID}, {"applicationID", applicationID}} {
		if f[1] != "" && !pulid.ID(f[1]).Valid() {
			return invalid(f[0], "is not an id")
		}
	}
	k := funnelKey{day: s.now().UTC().Format(funnelDay), org: organizationID, app: applicationID, event: e}
	s.funnel.mu.Lock()
	if s.funnel.counts == nil {
		s.funnel.counts = map[funnelKey]int64{}
	}
	s.funnel.counts[k]++
	s.funnel.mu.Unlock()
	return nil
}

// FlushFunnel writes the counts recorded since the last flush, one
// statement per counter; counts it could not write stay for the next
// flush. cmd runs it every second and at shutdown; Funnel runs it before
// reading.
func (s *Service) FlushFunnel(ctx context.Context) error {
	s.funnel.mu.Lock()
	pending := s.funnel.counts
	s.funnel.counts = nil
	s.funnel.mu.Unlock()
	var firstErr error
	for k, n := range pending {
		if firstErr == nil {
			_, err := s.client.ExecContext(ctx, addFunnelSQL, string(pulid.New("fnl")), k.day, k.org, k.app, string(k.event), n)
			if err == nil {
				continue
			}
			firstErr = fmt.Errorf("record funnel %s: %w", k.event, err)
		}
		s.funnel.mu.Lock()
		if s.funnel.counts == nil {
			s.funnel.counts = map[funnelKey]int64{}
		}
		s.funnel.counts[k] += n
		s.funnel.mu.Unlock()
	}
	return firstErr
}

// RunFunnelFlusher flushes the funnel counts every interval until ctx is
// done. The caller flushes once more after the last request.
func (s *Service) RunFunnelFlusher(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := s.FlushFunnel(ctx); err != nil && ctx.Err() == nil {
				s.logger().ErrorContext(ctx, "flush funnel counts", "err", err)
			}
		case <-ctx.Done():
			return
		}
	}
}

// FunnelDay is one counter: how many times Event happened on Day
// (YYYY-MM-DD, UTC) in an organization and application ("" for none).
type FunnelDay struct {
	Day            string
	OrganizationID pulid.ID
	ApplicationID  pulid.ID
	Event          FunnelEvent
	Count          int64
}

// Funnel returns the counters from day from to day to (YYYY-MM-DD, UTC,
// both included; at most MaxFunnelDays), ordered by day, organization,
// application and event. Reading them needs audit:read (tenants/authz):
// with organizationID, in that organization (ErrNotFound when it is out
// of the viewer's reach, a ForbiddenError without the permission);
// without, the viewer gets the organizations where it holds it, and
// Instance viewers everything, counters of no organization included.
func (s *Service) Funnel(ctx context.Context, from, to string, organizationID pulid.ID) ([]*FunnelDay, error) {
	if viewer.FromContext(ctx) == nil {
		return nil, ErrUnauthenticated
	}
	if err := s.FlushFunnel(ctx); err != nil {
		return nil, err
	}
	start, err := parseFunnelDay("from", from)
	if err != nil {
		return nil, err
	}
	end, err := parseFunnelDay("to", to)
	if err != nil {
		return nil, err
	}
	switch days := int(end.Sub(start)/(24*time.Hour)) + 1; {
	case days < 1:
		return nil, invalid("to", "must not be before from")
	case days > MaxFunnelDays:
		return nil, invalid("to", "the range may span at most %d days", MaxFunnelDays)
	}
	// Days are zero-padded YYYY-MM-DD, so text order is date order.
	q := s.client.FunnelCount.Query().Where(funnelcount.DayGTE(from), funnelcount.DayLTE(to))
	if organizationID != "" {
		if err := require(ctx, organizationID, authz.AuditRead); err != nil {
			return nil, err
		}
		q.Where(funnelcount.OrganizationID(string(organizationID)))
	}
	rows, err := q.Order(ent.Asc(funnelcount.FieldDay), ent.Asc(funnelcount.FieldOrganizationID),
		ent.Asc(funnelcount.FieldApplicationID), ent.Asc(funnelcount.FieldEvent)).
		Limit(maxFunnelRows + 1).All(ctx)
	if err != nil {
		return nil, translate(err, "funnel")
	}
	if len(rows) > maxFunnelRows {
		return nil, invalid("from", "more than %d counters in this range: name an organization or ask for fewer days", maxFunnelRows)
	}
	out := make([]*FunnelDay, len(rows))
	for i, r := range rows {
		out[i] = &FunnelDay{Day: r.Day, OrganizationID: pulid.ID(r.OrganizationID), ApplicationID: pulid.ID(r.ApplicationID),
			Event: FunnelEvent(r.Event), Count: r.Count}
	}
	return out, nil
}

// parseFunnelDay parses a YYYY-MM-DD day, refusing anything that is not
// exactly one (time.Parse accepts no other layout here, and the result
// must print back the same).
func parseFunnelDay(field, s string) (time.Time, error) {
	t, err := time.Parse(funnelDay, s)
	if err != nil || t.Format(funnelDay) != s {
		return time.Time{}, invalid(field, "must be a day as YYYY-MM-DD")
	}
	return t, nil
}

// LoginFunnel is the funnel event of a sign-in step that proved (ok) or
// failed to prove a factor of method (Factor.Method), or "" for a method
// the funnel does not count.
func LoginFunnel(method string, ok bool) FunnelEvent {
	var name string
	switch {
	case method == FactorPassword:
		name = "password"
	case method == FactorEmail:
		name = "email"
	case method == FactorHardwareKey || method == FactorSoftwareKey:
		name = "passkey"
	case method == FactorOTP:
		name = "otp"
	case method == FactorRecoveryCode:
		name = "recovery_code"
	case strings.HasPrefix(method, FactorSSOPrefix):
		name = "sso"
	default:
		return ""
	}
	if ok {
		return FunnelEvent("login.succeeded." + name)
	}
	return FunnelEvent("login.failed." + name)
}
