package tenants

import (
	"context"
	"sync"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// A sign-in request asks LoginPolicy more than once: the hosted pages
// after the password and again at completion, then the provider before it
// mints the code. Each asks with the same user and organization, so the
// request reads the policies once: the pages put a memo in the request's
// context (WithLoginPolicyMemo) and LoginPolicies answers from it, for
// every caller that is handed that context, the provider's CompleteLogin
// included. Decide still runs at every step; the memo lives as long as the
// request, so a policy changed since is read by the next request.

type policyMemoKey struct{}

type policyKey struct{ user, org pulid.ID }

type policyMemo struct {
	mu sync.Mutex
	m  map[policyKey][]*ent.OrganizationPolicy
	// enrolled memoizes SecondFactorEnrolled, the other fact the pages
	// decide on twice in one request; a change to the user's factors in
	// the request forgets it.
	enrolled map[pulid.ID]bool
}

// WithLoginPolicyMemo returns ctx carrying an empty memo of the login
// policies read while handling one request.
func WithLoginPolicyMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, policyMemoKey{}, &policyMemo{m: map[policyKey][]*ent.OrganizationPolicy{}, enrolled: map[pulid.ID]bool{}})
}

func policyMemoFrom(ctx context.Context) *policyMemo {
	m, _ := ctx.Value(policyMemoKey{}).(*policyMemo)
	return m
}

func (m *policyMemo) get(k policyKey) ([]*ent.OrganizationPolicy, bool) {
	if m == nil {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ps, ok := m.m[k]
	return ps, ok
}

func (m *policyMemo) put(k policyKey, ps []*ent.OrganizationPolicy) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[k] = ps
}

func (m *policyMemo) getEnrolled(user pulid.ID) (enrolled, ok bool) {
	if m == nil {
		return false, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	enrolled, ok = m.enrolled[user]
	return enrolled, ok
}

func (m *policyMemo) putEnrolled(user pulid.ID, enrolled bool) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.enrolled[user] = enrolled
}

// forgetEnrolled drops what the memo knows of user's second factors.
func (m *policyMemo) forgetEnrolled(user pulid.ID) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.enrolled, user)
}
