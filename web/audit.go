package web

import (
	"context"
	"net/http"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// Audit actions written by the hosted pages.
const (
	actionLoginFailed  = "user.login.failed"
	actionLogout       = "user.logout"
	actionLogoutFailed = "user.logout.failed" // a sign-out post rejected (metadata.reason)
	actionConsentGrant = "consent.grant"
	actionConsentDeny  = "consent.deny"
)

// Reasons of user.login.failed (metadata.reason), machine-readable, besides
// a password check's own (tenants.Reason*). The browser sees one message
// for all of them (ATO-04).
const (
	reasonThrottled  = "throttled"
	reasonCSRF       = "csrf"        // also of user.logout.failed
	reasonTicket     = "ticket"      // a step after sign-in posted without this session's ticket
	reasonUnknownACR = "unknown_acr" // the provider refused the authentication's acr
)

// auditEvent is one event of the hosted pages; audit adds where it came
// from and when.
type auditEvent struct {
	action string
	// user is the actor and target when known; otherwise the actor is
	// "anonymous" and there is no target.
	user     pulid.ID
	org      pulid.ID
	metadata map[string]any
}

// audit appends e to the audit trail through tenants' one writer
// (tenants.WriteAudit) as the System viewer, with the request's client
// address, user agent and request id. It never records a password, nor the
// email address typed for an unknown account. A failed write is logged,
// not shown: the browser's outcome was decided already.
func (w *Web) audit(ctx context.Context, r *http.Request, e auditEvent) {
	if err := tenants.WriteAudit(sys(ctx), w.cfg.Client.AuditEvent, w.cfg.Now(), w.event(r, e)); err != nil {
		w.cfg.Logger.ErrorContext(ctx, "write audit event", "action", e.action, "err", err)
	}
}

// event is e as tenants' Event, from r.
func (w *Web) event(r *http.Request, e auditEvent) tenants.Event {
	ev := tenants.Event{Action: e.action, Organization: e.org, Metadata: e.metadata, Origin: tenants.Origin(httpserver.OriginOf(r))}
	if id, _ := w.readDevice(r); id != "" {
		// The browser's device cookie id, for the risk scoring to come.
		md := make(map[string]any, len(e.metadata)+1)
		for k, v := range e.metadata {
			md[k] = v
		}
		md["device_id"] = id
		ev.Metadata = md
	}
	ev.Actor, ev.ActorType = "anonymous", "anonymous"
	if e.user != "" {
		byUser(&ev, e.user)
	}
	return ev
}

// byUser makes user the actor and the target of ev.
func byUser(ev *tenants.Event, user pulid.ID) {
	ev.Actor, ev.ActorType, ev.TargetType, ev.TargetID = string(user), "user", ent.TypeUser, string(user)
}

// limitedReasons are refusals that anyone can repeat at will and that
// change nothing (a forged form, a throttled attempt): recorded like
// /graphql's 401s, at most 10 a minute per client and reason
// (tenants.Audit.Rejected), so they cannot flood the trail. Wrong
// passwords and unknown emails are each recorded: the throttle bounds them.
var limitedReasons = map[string]bool{reasonThrottled: true, reasonCSRF: true, reasonTicket: true}

// loginFailed records a rejected sign-in (the "Reject" convention of
// SECURITY-CHECKLIST: one event with a machine-readable reason).
func (w *Web) loginFailed(ctx context.Context, r *http.Request, req *LoginRequest, userID pulid.ID, reason string) {
	e := auditEvent{action: actionLoginFailed, user: userID,
		metadata: map[string]any{"reason": reason, "client_id": req.ClientID, "path": r.URL.Path}}
	if limitedReasons[reason] {
		ev := w.event(r, e)
		ev.Reason = reason // the limit is per client and reason
		w.rejections.Rejected(sys(ctx), w.cfg.Client, ev)
		return
	}
	w.audit(ctx, r, e)
}

// loginThrottled records a throttled sign-in for email, rate-limited like
// every reasonThrottled refusal. Most are suppressed by that limit, so
// the user email names is looked up only for an event that is written.
func (w *Web) loginThrottled(ctx context.Context, r *http.Request, req *LoginRequest, email string) {
	ev := w.event(r, auditEvent{action: actionLoginFailed,
		metadata: map[string]any{"reason": reasonThrottled, "client_id": req.ClientID, "path": r.URL.Path}})
	ev.Reason = reasonThrottled // the limit is per client and reason
	w.rejections.RejectedThen(sys(ctx), w.cfg.Client, ev, func(ev *tenants.Event) {
		if id := w.userIDByEmail(ctx, email); id != "" {
			byUser(ev, id)
		}
	})
}
