package tenants

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// Service is the domain's entry point. It is safe for concurrent use.
type Service struct {
	client         *ent.Client
	now            func() time.Time
	passwordParams password.Params
	log            *slog.Logger
	// dummy is verified against when a sign-in has no hash to verify
	// (credentials.go); made on first use, at the service's parameters.
	dummyMu     sync.Mutex
	dummy       *password.Dummy
	dummyChecks atomic.Int64
	aud         *Audit
	// sealer seals TOTP secrets (mfa.go); totpIssuer names the instance in
	// authenticator apps.
	sealer     *seal.Sealer
	totpIssuer string
	// dev relaxes the https rule for the URLs a connection stores
	// (WithDev).
	dev bool
	// replayPurge is when RememberAssertion last swept expired assertion
	// ids (unix nanoseconds).
	replayPurge atomic.Int64
	// beforeSpend, when set (tests), runs after a one-time code is checked
	// and before it is spent, so a test can hold parallel attempts there.
	beforeSpend func()
	// domains configures DNS verification (domainverify.go).
	domains DomainChecks
	// funnel holds the funnel counts until the next flush (funnel.go).
	funnel funnelBuffer
	// metadataRefresh is how often a SAML connection's metadata URL is
	// fetched again (connectionmetadata.go).
	metadataRefresh time.Duration
	// dialect is the database's (WithDialect): PostgreSQL lets a change
	// of several rows be one statement where SQLite needs a transaction.
	dialect string
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock the service reads (tests pin it). Defaults to time.Now.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithPasswordParams sets the argon2id cost (tests use a cheap one).
// Defaults to password.Default.
func WithPasswordParams(p password.Params) Option { return func(s *Service) { s.passwordParams = p } }

// WithLogger sets where the service logs what it cannot return (a
// malformed stored hash). Defaults to slog.Default().
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithDev turns on dev mode's relaxations, as GATEHOUSE_DEV does: a
// connection's IdP URLs may then use plain http on any host (outside dev,
// only on a loopback address). Defaults to false.
func WithDev(dev bool) Option { return func(s *Service) { s.dev = dev } }

// WithDialect names the database's SQL dialect, as ent names it
// (dialect.Postgres, dialect.SQLite): on PostgreSQL a few hot changes of
// several rows are made in one statement (data-modifying WITH) instead of
// a transaction. Without it every change takes the portable path, which
// is correct on both.
func WithDialect(d string) Option { return func(s *Service) { s.dialect = d } }

// NewService returns a Service over client. Every call must carry a viewer
// in its context (tenants/viewer); calls without one are denied.
func NewService(client *ent.Client, opts ...Option) *Service {
	s := &Service{client: client, now: time.Now, passwordParams: password.Default, totpIssuer: defaultTOTPIssuer,
		domains: DomainChecks{}.withDefaults(), metadataRefresh: DefaultMetadataRefresh}
	for _, o := range opts {
		o(s)
	}
	s.aud = NewAudit(AuditConfig{Now: s.now, Logger: s.log})
	return s
}

// Audit is the service's audit writer for refused requests that change
// nothing (Audit.Rejected), rate-limited per client address and reason.
func (s *Service) Audit() *Audit { return s.aud }

// Client returns the ent client, for reads that resolvers make directly
// (pagination, node lookups); the authorizer filters them like any other.
func (s *Service) Client() *ent.Client { return s.client }

// inTx runs fn in a transaction and commits when it returns nil.
func (s *Service) inTx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// event describes one audit event; audit fills in who, from where and when.
type event struct {
	action     string
	org        pulid.ID
	targetType string
	targetID   pulid.ID
	metadata   map[string]any
}

// audit appends e to the trail inside tx, so that the change and its record
// commit or roll back together (WriteAudit). Who acted and from where come
// from the viewer, which every service call has.
func (s *Service) audit(ctx context.Context, tx *ent.Tx, e event) error {
	if viewer.FromContext(ctx) == nil {
		return fmt.Errorf("audit %s: %w", e.action, ErrUnauthenticated)
	}
	return WriteAudit(ctx, tx.AuditEvent, s.now(), Event{Action: e.action, Organization: e.org,
		TargetType: e.targetType, TargetID: string(e.targetID), Metadata: e.metadata})
}

// truncate shortens s to at most n bytes without splitting a UTF-8
// sequence, and drops invalid UTF-8 (PostgreSQL refuses it in text
// columns; a request header can carry anything).
func truncate(s string, n int) string {
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

// unwrap detaches an entity loaded in a transaction from it, so that edges
// resolved after the commit (GraphQL payload fields) use the plain client.
func unwrap[T interface{ Unwrap() T }](v T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return v.Unwrap(), nil
}
