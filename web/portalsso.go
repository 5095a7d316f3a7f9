package web

import (
	"context"
	"errors"
	"net/http"
	"sort"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// Test sign-ins from the admin portal: the IT admin signs in at the
// organization's IdP through a connection that is not active yet, and
// sees what the IdP sent (or the precise reason it was refused). The
// attempt is flagged as a test (tenants.NewSSOAttempt.TestFor); the
// usual answer endpoints verify the answer with the connector, and then,
// instead of signing in (finishSSO), hand it to testAnswer: recorded in
// the connection's recent attempts, audited, shown — no user, no session.

const (
	msgPortalTestUnavailable = "page.error.portal_test_unavailable"
	actionSSOTest            = "sso.test"
)

// portalResultPage shows a test sign-in's result.
type portalResultPage struct {
	layout
	Succeeded  bool
	Connection string
	Subject    string
	Email      string
	Attributes []portalAttribute
	ErrorCode  string
	Reason     string
}

type portalAttribute struct {
	Name   string
	Values []string
}

// beginSSOTest sends the browser to conn's IdP for a test sign-in.
func (w *Web) beginSSOTest(rw http.ResponseWriter, r *http.Request, ps *tenants.PortalSession, conn *ent.Connection) {
	ctx := r.Context()
	test := &tenants.SSOAttempt{TestFor: ps.ID}
	connector, err := w.cfg.SSO.Connector(ctx, conn)
	if err != nil {
		// Recorded and audited as any failed test (the sign-in's
		// counterpart is ssoRejected's "configuration").
		w.testAnswer(rw, r, test, conn, federation.Identity{}, &federation.Rejection{Code: "configuration", Reason: err.Error(), Err: err})
		return
	}
	err = w.startSSO(rw, r, conn, connector, tenants.NewSSOAttempt{ConnectionID: conn.ID, TestFor: ps.ID},
		federation.BeginRequest{ForceAuthn: true})
	var bad *tenants.InputError
	switch {
	case err == nil:
		w.cfg.Logger.InfoContext(ctx, "sso test started", "connection", conn.ID, "portal_session", ps.ID)
	case errors.As(err, &bad):
		w.fail(rw, r, err)
	default:
		w.testAnswer(rw, r, test, conn, federation.Identity{}, err)
	}
}

// testAnswer finishes a test attempt, when a is one, with the identity
// the connector verified or its refusal (finishErr), and reports whether
// it did. It records the attempt for the connection's administrator,
// audits it, and shows the result; it signs no one in.
func (w *Web) testAnswer(rw http.ResponseWriter, r *http.Request, a *tenants.SSOAttempt, conn *ent.Connection, id federation.Identity, finishErr error) bool {
	if a == nil || a.TestFor == "" {
		return false
	}
	ctx := withOrigin(r.Context(), r)
	var code, reason string
	if finishErr != nil {
		code, reason = federation.RejectionOf(finishErr)
	} else {
		code, reason = testMapping(w.cfg.SSO.SignInInput(conn, id))
	}
	w.recordAttempt(ctx, conn, id, code, reason)
	w.auditTest(ctx, r, a, conn, code, reason)
	w.renderTestResult(rw, r, conn, id, code, reason)
	return true
}

// testMapping checks what a sign-in would need of the mapped identity: a
// subject and a usable email address.
func testMapping(in tenants.FederatedIdentityInput) (code, reason string) {
	if in.Subject == "" {
		return "mapping", "the identity provider sent no subject (SAML NameID / OIDC sub)"
	}
	if _, err := tenants.NormalizeEmail("email", in.Email); err != nil {
		return "mapping", "no usable email address in the mapped attribute: " + err.Error()
	}
	return "", ""
}

func (w *Web) auditTest(ctx context.Context, r *http.Request, a *tenants.SSOAttempt, conn *ent.Connection, code, reason string) {
	md := map[string]any{"connection_id": string(conn.ID), "portal_session_id": string(a.TestFor), "succeeded": code == ""}
	if code != "" {
		md["code"], md["reason"] = code, reason
	}
	w.audit(ctx, r, auditEvent{action: actionSSOTest, org: conn.OrganizationID, metadata: md})
}

func (w *Web) renderTestResult(rw http.ResponseWriter, r *http.Request, conn *ent.Connection, id federation.Identity, code, reason string) {
	p := &portalResultPage{Succeeded: code == "", Connection: string(conn.ID), Subject: id.Subject, Email: id.Email,
		ErrorCode: code, Reason: reason}
	for name, values := range id.Attributes {
		p.Attributes = append(p.Attributes, portalAttribute{Name: name, Values: values})
	}
	sort.Slice(p.Attributes, func(i, j int) bool { return p.Attributes[i].Name < p.Attributes[j].Name })
	status := http.StatusOK
	if code != "" {
		status = http.StatusUnauthorized
	}
	w.render(rw, r, status, pagePortalResult, "page.title.portal_result", p)
}
