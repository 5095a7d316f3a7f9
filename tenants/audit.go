package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// The audit trail has one writer, this file. Every package that records an
// event (the service below, the hosted pages, the OpenID Provider, the
// GraphQL handler) builds an Event and hands it to WriteAudit with the
// AuditEvent client of the transaction that makes the change, so the change
// and its record commit or roll back together; or to Audit.Rejected for a
// refused request that changed nothing, which is rate-limited so that an
// attacker cannot flood the trail.

// Event is one audit event before it is written.
type Event struct {
	// Action is a dotted verb: organization.create, user.login.failed,
	// token.refresh.reused…
	Action string
	// Organization is the organization the event belongs to, if any.
	Organization pulid.ID
	// Actor and ActorType say who acted: a user id and "user", a client id
	// and "client", "anonymous"… When Actor is empty they come from the
	// viewer in the context (an API key, a user, "system").
	Actor, ActorType string
	// TargetType and TargetID name what the event is about, if anything.
	TargetType string
	TargetID   string
	// Reason is the machine-readable reason of a refusal (metadata.reason):
	// the "Reject" convention of the security checklist.
	Reason   string
	Metadata map[string]any
	// Origin is where the request came from. When zero it comes from the
	// context (WithOrigin), else from the viewer in it (originOf).
	Origin Origin
}

// Origin is the request an event came from. tenants knows no HTTP: the
// surfaces make one from their request with
// tenants.Origin(httpserver.OriginOf(r)) (the same fields, in the same
// order).
type Origin struct {
	IP        string
	UserAgent string
	RequestID string
	// Network is the client as rate limits key it (an IPv6 client's /64);
	// not stored. Empty means IP.
	Network string
}

type originKey struct{}

// WithOrigin returns ctx carrying o: a page that asks another package to
// make a change (the provider completing a sign-in) hands on where the
// request came from, for the event written with that change.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFrom returns the origin WithOrigin put in ctx.
func OriginFrom(ctx context.Context) (Origin, bool) {
	o, ok := ctx.Value(originKey{}).(Origin)
	return o, ok
}

// originOf is the one rule for where an event came from: o when set,
// else the origin WithOrigin put in ctx, else the request the viewer in
// ctx came with. WriteAudit and Rejected (for its rate-limit key too)
// both follow it.
func originOf(ctx context.Context, o Origin) Origin {
	if o != (Origin{}) {
		return o
	}
	if o, ok := OriginFrom(ctx); ok {
		return o
	}
	if v := viewer.FromContext(ctx); v != nil {
		return Origin{IP: v.IP, UserAgent: v.UserAgent, RequestID: v.RequestID}
	}
	return Origin{}
}

// fill completes e from the viewer in ctx and returns the metadata to store.
func (e *Event) fill(ctx context.Context) map[string]any {
	v := viewer.FromContext(ctx)
	if e.Actor == "" {
		if v != nil {
			e.Actor, e.ActorType = v.Actor, v.Kind.String()
		} else {
			e.Actor, e.ActorType = "anonymous", "anonymous"
		}
	}
	if e.ActorType == "" {
		e.ActorType = "unknown"
	}
	e.Origin = originOf(ctx, e.Origin)
	e.Origin.UserAgent = truncate(e.Origin.UserAgent, 512)
	e.Origin.IP = truncate(e.Origin.IP, 64)
	md := e.Metadata
	if e.Reason != "" {
		md = make(map[string]any, len(e.Metadata)+1)
		for k, v := range e.Metadata {
			md[k] = v
		}
		md["reason"] = e.Reason
	}
	return md
}

// WriteAudit appends e at time at through events: tx.AuditEvent of the
// transaction that makes the change the event records, so both commit or
// roll back together, or client.AuditEvent for an event that records no
// change. ctx must carry a viewer the authorizer lets append events
// (the service's caller, or viewer.SystemContext). It never records
// secrets: callers put no password, token or typed-in unknown email in e.
func WriteAudit(ctx context.Context, events *ent.AuditEventClient, at time.Time, e Event) error {
	if err := auditCreate(ctx, events, at, e).Exec(ctx); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// WriteAuditBulk is WriteAudit for several events of one change, in one
// INSERT (a revocation of many grants records each).
func WriteAuditBulk(ctx context.Context, events *ent.AuditEventClient, at time.Time, es []Event) error {
	if len(es) == 0 {
		return nil
	}
	// In INSERTs of at most BulkChunk rows: a statement's bind parameters
	// are bounded (65535 on PostgreSQL, 32766 on SQLite), and an event has 12.
	for chunk := range slices.Chunk(es, BulkChunk) {
		cs := make([]*ent.AuditEventCreate, len(chunk))
		for i, e := range chunk {
			cs[i] = auditCreate(ctx, events, at, e)
		}
		if err := events.CreateBulk(cs...).Exec(ctx); err != nil {
			return fmt.Errorf("audit %d events %s: %w", len(es), es[0].Action, err)
		}
	}
	return nil
}

// BulkChunk is how many rows (or ids in an IN list) one statement of a
// bulk change carries, well within both databases' bind-parameter limits.
const BulkChunk = 1000

// AuditColumns are the columns of an audit event, in AuditRow's order.
const AuditColumns = `"id", "organization_id", "action", "actor", "actor_type", "target_type", "target_id", "ip", "user_agent", "request_id", "metadata", "created_at"`

// AuditMetadataColumn is the index in AuditColumns (and AuditRow) of the
// metadata, JSON text that a statement casts (::jsonb on PostgreSQL).
const AuditMetadataColumn = 10

// AuditRow is e as the values of AuditColumns, for a statement written in
// SQL that stores an event with its change in one round trip (the
// provider's refresh rotation on PostgreSQL). It fills e in as WriteAudit
// does; nullable columns are nil where WriteAudit leaves them unset, and
// the metadata is JSON text.
func AuditRow(ctx context.Context, at time.Time, e Event) ([]any, error) {
	if e.Action == "" {
		return nil, errors.New("audit: an event needs an action")
	}
	md := e.fill(ctx)
	var metadata any
	if len(md) > 0 {
		b, err := json.Marshal(md)
		if err != nil {
			return nil, fmt.Errorf("audit %s: %w", e.Action, err)
		}
		metadata = string(b)
	}
	orNil := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	return []any{string(pulid.New("evt")), orNil(string(e.Organization)), e.Action, e.Actor, e.ActorType,
		orNil(e.TargetType), orNil(e.TargetID), e.Origin.IP, e.Origin.UserAgent, e.Origin.RequestID, metadata, at}, nil
}

// auditCreate is the INSERT of e, filled from ctx.
func auditCreate(ctx context.Context, events *ent.AuditEventClient, at time.Time, e Event) *ent.AuditEventCreate {
	md := e.fill(ctx)
	c := events.Create().
		SetAction(e.Action).
		SetActor(e.Actor).
		SetActorType(e.ActorType).
		SetIP(e.Origin.IP).
		SetUserAgent(e.Origin.UserAgent).
		SetRequestID(e.Origin.RequestID).
		SetCreatedAt(at)
	if e.TargetType != "" {
		c.SetTargetType(e.TargetType)
	}
	if e.TargetID != "" {
		c.SetTargetID(e.TargetID)
	}
	if e.Organization != "" {
		c.SetOrganizationID(e.Organization)
	}
	if len(md) > 0 {
		c.SetMetadata(md)
	}
	return c
}

// AuditConfig configures an Audit. Zero values take the defaults.
type AuditConfig struct {
	// Now defaults to time.Now.
	Now func() time.Time
	// Logger receives events that could not be written. Defaults to
	// slog.Default().
	Logger *slog.Logger
	// RejectLimit is how many rejections Rejected writes per client address
	// and reason per RejectWindow. Defaults to 10.
	RejectLimit int
	// RejectWindow defaults to one minute.
	RejectWindow time.Duration
	// RejectKeys bounds the (address, reason) pairs remembered at once.
	// Defaults to 10,000 (about a megabyte).
	RejectKeys int
	// RejectTotal bounds the rejections written per RejectWindow over all
	// keys, so that many addresses (an IPv6 network's worth, a botnet)
	// cannot flood the trail either. Defaults to 600 (10 a second).
	RejectTotal int
}

// Audit writes events for rejected requests at a bounded rate. It is safe
// for concurrent use; its only state is the rate limiter.
type Audit struct {
	now    func() time.Time
	log    *slog.Logger
	limit  int
	window time.Duration
	max    int
	total  int

	mu      sync.Mutex
	buckets map[rejectKey]*rejectBucket
	// orphaned counts rejections suppressed under keys that were forgotten
	// before they could report them; the next written rejection reports
	// them as metadata.suppressed_elsewhere.
	orphaned int
	swept    time.Time
	// written counts the rejections written in the window that started at
	// windowStart, over all keys.
	written     int
	windowStart time.Time
}

type rejectKey struct{ ip, action, reason string }

type rejectBucket struct {
	start      time.Time
	written    int
	suppressed int
}

// NewAudit returns an Audit for cfg.
func NewAudit(cfg AuditConfig) *Audit {
	a := &Audit{now: cfg.Now, log: cfg.Logger, limit: cfg.RejectLimit, window: cfg.RejectWindow, max: cfg.RejectKeys,
		total: cfg.RejectTotal, buckets: map[rejectKey]*rejectBucket{}}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.limit <= 0 {
		a.limit = 10
	}
	if a.window <= 0 {
		a.window = time.Minute
	}
	if a.max <= 0 {
		a.max = 10000
	}
	if a.total <= 0 {
		a.total = 600
	}
	return a
}

// Rejected records a refused request that changed nothing (a 401 at
// /graphql, an invalid_client or invalid_grant at the token endpoint),
// from the origin WriteAudit would give it (originOf):
// at most RejectLimit events per client address (an IPv6 client's /64)
// and reason per window, and at most RejectTotal in all.
// The first event written for a key after some were suppressed carries
// their number as metadata.suppressed. It writes through client (no
// transaction: there is no change to go with) as the System viewer, and
// logs a failed write instead of returning it: the request's answer is
// decided already.
func (a *Audit) Rejected(ctx context.Context, client *ent.Client, e Event) {
	a.RejectedThen(ctx, client, e, nil)
}

// RejectedThen is Rejected for an event that costs work to finish (a
// lookup of the user it names): complete, when not nil, fills e in only
// once the limit lets it be written, so a suppressed rejection costs
// nothing but its count. The limit's key (origin, action, reason) must be
// in e already.
func (a *Audit) RejectedThen(ctx context.Context, client *ent.Client, e Event, complete func(*Event)) {
	// Resolved here, in the caller's context: the event is written as
	// System, whose viewer knows no request.
	e.Origin = originOf(ctx, e.Origin)
	network := e.Origin.Network
	if network == "" {
		network = e.Origin.IP
	}
	suppressed, elsewhere, ok := a.allow(rejectKey{ip: network, action: e.Action, reason: e.Reason})
	if !ok {
		return
	}
	if complete != nil {
		complete(&e)
	}
	if suppressed > 0 || elsewhere > 0 {
		md := make(map[string]any, len(e.Metadata)+2)
		for k, v := range e.Metadata {
			md[k] = v
		}
		if suppressed > 0 {
			md["suppressed"] = suppressed
		}
		if elsewhere > 0 {
			md["suppressed_elsewhere"] = elsewhere
		}
		e.Metadata = md
	}
	if err := WriteAudit(viewer.SystemContext(ctx), client.AuditEvent, a.now(), e); err != nil {
		a.log.ErrorContext(ctx, "write audit event", "action", e.Action, "reason", e.Reason, "err", err)
	}
}

// allow counts one rejection under k. ok says whether to write it; then
// suppressed is how many were left out under k since the last one written,
// and elsewhere how many under keys forgotten since.
func (a *Audit) allow(k rejectKey) (suppressed, elsewhere int, ok bool) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.buckets[k]
	if b == nil {
		if len(a.buckets) >= a.max {
			a.sweep(now)
		}
		if len(a.buckets) >= a.max {
			// Full of live keys: count the rejection, write nothing. The
			// count is reported by the next event written.
			a.orphaned++
			return 0, 0, false
		}
		b = &rejectBucket{start: now}
		a.buckets[k] = b
	}
	if now.Sub(b.start) >= a.window || now.Before(b.start) {
		b.start, b.written = now, 0
	}
	if b.written >= a.limit {
		b.suppressed++
		return 0, 0, false
	}
	if now.Sub(a.windowStart) >= a.window || now.Before(a.windowStart) {
		a.windowStart, a.written = now, 0
	}
	if a.written >= a.total {
		a.orphaned++ // reported by the first event of a later window
		return 0, 0, false
	}
	a.written++
	b.written++
	suppressed, b.suppressed = b.suppressed, 0
	elsewhere, a.orphaned = a.orphaned, 0
	return suppressed, elsewhere, true
}

// sweep forgets keys whose window has passed, at most once per window, so
// a full table costs one pass a minute however hard it is hit. What a
// forgotten key had suppressed is kept in orphaned.
func (a *Audit) sweep(now time.Time) {
	if !a.swept.IsZero() && now.Sub(a.swept) < a.window && !now.Before(a.swept) {
		return
	}
	a.swept = now
	for k, b := range a.buckets {
		if now.Sub(b.start) >= a.window || now.Before(b.start) {
			a.orphaned += b.suppressed
			delete(a.buckets, k)
		}
	}
}
