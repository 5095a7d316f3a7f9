package web

import (
	"context"
	"net/http"
	"slices"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// What the browser is told when the organization's policy stops a
// sign-in. Methods that Gatehouse does not offer yet (the organization's
// own identity provider) fail closed; a second factor is a step of its
// own (login_mfa.go).
const (
	msgSSORequired      = "page.error.sso_required"
	msgMethodNotAllowed = "page.error.method_not_allowed"
)

// Reasons of user.login.failed when the policy stops a sign-in.
const (
	reasonSSORequired      = "sso_required"
	reasonMethodNotAllowed = "method_not_allowed"
)

// withPolicyMemo gives each request one read of the login policies
// (tenants.WithLoginPolicyMemo): the password step, completion and the
// flow's CompleteLogin decide on the same policies, read once.
func withPolicyMemo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(rw, r.WithContext(tenants.WithLoginPolicyMemo(r.Context())))
	})
}

// policyDecision asks tenants.LoginPolicy whether u, having proven
// factors, may sign in to org for req, and returns the policies it
// applied. org "" means the organization in question is not known yet:
// when req wants the user to choose one, no policy applies until the
// choice (complete asks again); otherwise the login is into no
// organization and every organization of the user has its say.
func (w *Web) policyDecision(ctx context.Context, req *LoginRequest, u *ent.User, org pulid.ID, factors []tenants.Factor) (tenants.Decision, []*ent.OrganizationPolicy, error) {
	var policies []*ent.OrganizationPolicy
	if org != "" || !needsOrganization(req) {
		var err error
		if policies, err = w.cfg.Tenants.LoginPolicies(ctx, u.ID, org); err != nil {
			return tenants.Decision{}, nil, err
		}
	}
	enrolled, err := w.cfg.Tenants.SecondFactorEnrolled(ctx, u.ID)
	if err != nil {
		return tenants.Decision{}, nil, err
	}
	d := tenants.LoginPolicy{}.Decide(tenants.LoginInput{
		User: u, Policies: policies, Factors: factors, Now: w.cfg.Now(), SecondFactorEnrolled: enrolled,
		Client: tenants.LoginClient{ID: req.ClientID, MaxAge: req.MaxAge, MFA: wantsMFA(req)},
	})
	return d, policies, nil
}

// policyAllows is policyDecision answered for the session s at
// completion: it returns the policies applied when the decision is Done;
// when a second factor is needed it starts the step-up (stepUp), and
// otherwise it writes the response (policyStopped, or the failure); both
// return false.
func (w *Web) policyAllows(rw http.ResponseWriter, r *http.Request, req *LoginRequest, s *ent.Session, u *ent.User, org pulid.ID) ([]*ent.OrganizationPolicy, bool) {
	d, policies, err := w.policyDecision(r.Context(), req, u, org, sessionFactors(s))
	if err != nil {
		w.fail(rw, r, err)
		return nil, false
	}
	if needsSecondFactor(d) {
		w.stepUp(rw, r, req, s, u, org)
		return nil, false
	}
	if d.Outcome != tenants.Done {
		w.policyStopped(rw, r, req, u, d)
		return nil, false
	}
	return policies, true
}

// lifetimes are the session lifetimes of policies, or the configured
// defaults when there is none.
func (w *Web) lifetimes(policies []*ent.OrganizationPolicy) tenants.SessionLifetimes {
	return tenants.LifetimesOf(tenants.SessionLifetimes{Absolute: w.cfg.SessionLifetime, Idle: w.cfg.SessionIdleTimeout}, policies)
}

// policyStopped answers a decision other than Done: the sign-in form when
// a password would do (a sign-in older than max_age), otherwise a page that
// says why the sign-in cannot complete, or for prompt=none the error the
// application must hear. Every stop is audited.
func (w *Web) policyStopped(rw http.ResponseWriter, r *http.Request, req *LoginRequest, u *ent.User, d tenants.Decision) {
	ctx := r.Context()
	if d.Outcome == tenants.Need && slices.Contains(d.Steps, tenants.StepPassword) {
		w.signInAgain(rw, r, req, u)
		return
	}
	status, msg, reason := http.StatusForbidden, msgMethodNotAllowed, reasonMethodNotAllowed
	switch {
	case d.Outcome == tenants.Refuse && d.Reason == tenants.RefuseUserInactive:
		status, msg, reason = http.StatusUnauthorized, msgSessionEnded, tenants.ReasonDisabled
	case d.Outcome == tenants.Need && slices.Contains(d.Steps, tenants.StepSSO):
		// enforceSSO: to the organization's identity provider, when it
		// has one.
		if !silent(req) && w.ssoForUser(rw, r, req, u) {
			return
		}
		msg, reason = msgSSORequired, reasonSSORequired
	}
	w.cfg.Logger.InfoContext(ctx, "login stopped by policy", "auth_request", req.ID, "user", u.ID,
		"outcome", d.Outcome, "steps", d.Steps, "reason", reason)
	w.loginFailed(ctx, r, req, u.ID, reason)
	if silent(req) {
		w.failLogin(rw, r, req, "interaction_required", "the organization's policy requires another sign-in method")
		return
	}
	w.renderError(rw, r, status, msg)
}

// sessionFactors are the factors a session proved, at its sign-in.
func sessionFactors(s *ent.Session) []tenants.Factor {
	return tenants.FactorsOf(s.Amr, s.AuthTime)
}
