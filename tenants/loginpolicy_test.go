package tenants

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
)

func TestLoginPolicyDecide(t *testing.T) {
	now := time.Unix(1_000_000, 0) // Decide reads no clock: any instant will do
	active := &ent.User{ID: "usr_1", Status: user.StatusACTIVE}
	disabled := &ent.User{ID: "usr_2", Status: user.StatusDISABLED}
	all := []string{"PASSWORD", "PASSKEY", "MAGIC_LINK", "SSO"}
	policy := func(f func(p *ent.OrganizationPolicy)) *ent.OrganizationPolicy {
		p := &ent.OrganizationPolicy{AllowedLoginMethods: all, SessionAbsoluteLifetimeSeconds: 3600, SessionIdleLifetimeSeconds: 600}
		if f != nil {
			f(p)
		}
		return p
	}
	plain := policy(nil)
	mfa := policy(func(p *ent.OrganizationPolicy) { p.MfaRequired = true })
	sso := policy(func(p *ent.OrganizationPolicy) { p.EnforceSSO = true })
	noPassword := policy(func(p *ent.OrganizationPolicy) { p.AllowedLoginMethods = []string{"PASSKEY", "SSO"} })
	passwordOnly := policy(func(p *ent.OrganizationPolicy) { p.AllowedLoginMethods = []string{"PASSWORD"} })
	ssoOnly := policy(func(p *ent.OrganizationPolicy) { p.AllowedLoginMethods = []string{"SSO"} })
	pwd := Factor{Method: FactorPassword, At: now.Add(-time.Minute)}
	oldPwd := Factor{Method: FactorPassword, At: now.Add(-2 * time.Hour)}
	otp := Factor{Method: FactorOTP, At: now}
	hwk := Factor{Method: FactorHardwareKey, At: now}
	swk := Factor{Method: FactorSoftwareKey, At: now}
	upstream := Factor{Method: FactorSSOPrefix + "conn_1", At: now}
	upstream2 := Factor{Method: FactorSSOPrefix + "conn_2", At: now}
	hour := time.Hour

	done := Decision{Outcome: Done}
	need := func(steps ...string) Decision { return Decision{Outcome: Need, Steps: steps} }
	refuse := func(reason string) Decision { return Decision{Outcome: Refuse, Reason: reason} }

	for _, tc := range []struct {
		name     string
		user     *ent.User
		policies []*ent.OrganizationPolicy
		factors  []Factor
		maxAge   *time.Duration
		want     Decision
	}{
		{"unknown user needs identifying", nil, nil, nil, nil, need(StepIdentify)},
		{"no factor: every method, passkey first", active, nil, nil, nil, need(StepPasskey, StepPassword, StepEmail, StepSSO)},
		{"no factor: only what the policy allows", active, []*ent.OrganizationPolicy{noPassword}, nil, nil, need(StepPasskey, StepSSO)},
		{"password with no policy", active, nil, []Factor{pwd}, nil, done},
		{"password with a plain policy", active, []*ent.OrganizationPolicy{plain}, []Factor{pwd}, nil, done},
		{"disabled user refused, whatever was proven", disabled, nil, []Factor{pwd, otp}, nil, refuse(RefuseUserInactive)},
		{"password not allowed", active, []*ent.OrganizationPolicy{noPassword}, []Factor{pwd}, nil, refuse(RefuseMethodNotAllowed)},
		{"password not allowed by one of several policies", active, []*ent.OrganizationPolicy{plain, noPassword}, []Factor{pwd}, nil, refuse(RefuseMethodNotAllowed)},
		{"passkey not allowed", active, []*ent.OrganizationPolicy{passwordOnly}, []Factor{swk}, nil, refuse(RefuseMethodNotAllowed)},
		{"policies that share no method", active, []*ent.OrganizationPolicy{passwordOnly, ssoOnly}, nil, nil, refuse(RefuseMethodNotAllowed)},
		{"otp is a second factor only, never refused as a method", active, []*ent.OrganizationPolicy{passwordOnly}, []Factor{pwd, otp}, nil, done},
		{"an otp alone is no sign-in", active, nil, []Factor{otp}, nil, need(StepPasskey, StepPassword, StepEmail, StepSSO)},
		{"mfa required: password alone needs a second factor", active, []*ent.OrganizationPolicy{mfa}, []Factor{pwd}, nil, need(StepMFA)},
		{"mfa required: password and otp", active, []*ent.OrganizationPolicy{mfa}, []Factor{pwd, otp}, nil, done},
		{"mfa required: password and passkey", active, []*ent.OrganizationPolicy{mfa}, []Factor{pwd, hwk}, nil, done},
		{"mfa required: a device-bound passkey is user-verified, multi-factor", active, []*ent.OrganizationPolicy{mfa}, []Factor{hwk}, nil, done},
		{"mfa required: a synced passkey is user-verified, multi-factor", active, []*ent.OrganizationPolicy{mfa}, []Factor{swk}, nil, done},
		{"mfa required: an emailed link alone needs a second factor", active, []*ent.OrganizationPolicy{mfa}, []Factor{{Method: FactorEmail, At: now}}, nil, need(StepMFA)},
		{"mfa required: the same factor twice is one", active, []*ent.OrganizationPolicy{mfa}, []Factor{pwd, pwd}, nil, need(StepMFA)},
		{"mfa required by one of several policies", active, []*ent.OrganizationPolicy{plain, mfa}, []Factor{pwd}, nil, need(StepMFA)},
		{"sso enforced: no factor needs sso", active, []*ent.OrganizationPolicy{sso}, nil, nil, need(StepSSO)},
		{"sso enforced: password needs sso", active, []*ent.OrganizationPolicy{sso}, []Factor{pwd}, nil, need(StepSSO)},
		{"sso enforced: password and otp still need sso", active, []*ent.OrganizationPolicy{sso}, []Factor{pwd, otp}, nil, need(StepSSO)},
		{"sso enforced: upstream sign-in", active, []*ent.OrganizationPolicy{sso}, []Factor{upstream}, nil, done},
		{"sso and mfa: two connections are one kind", active, []*ent.OrganizationPolicy{sso, mfa}, []Factor{upstream, upstream2}, nil, need(StepMFA)},
		{"sso and mfa: upstream and otp", active, []*ent.OrganizationPolicy{sso, mfa}, []Factor{upstream, otp}, nil, done},
		{"sso and mfa: what the IdP reported is of its sign-in's kind", active, []*ent.OrganizationPolicy{sso, mfa},
			[]Factor{upstream, {Method: "upstream:pwd", At: now}, {Method: "upstream:otp", At: now}}, nil, need(StepMFA)},
		{"an IdP's pwd is not a password here", active, []*ent.OrganizationPolicy{ssoOnly},
			[]Factor{upstream, {Method: "upstream:pwd", At: now}}, nil, done},
		{"an IdP's words alone are no sign-in", active, nil, []Factor{{Method: "upstream:pwd", At: now}, {Method: "upstream:hwk", At: now}},
			nil, need(StepPasskey, StepPassword, StepEmail, StepSSO)},
		{"max_age: an old factor does not count", active, nil, []Factor{oldPwd}, &hour, need(StepPasskey, StepPassword, StepEmail, StepSSO)},
		{"max_age: a recent factor counts", active, nil, []Factor{pwd}, &hour, done},
		{"max_age: an old first factor with a new second needs a first again", active, []*ent.OrganizationPolicy{mfa}, []Factor{oldPwd, otp}, &hour, need(StepPasskey, StepPassword, StepEmail, StepSSO)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := LoginPolicy{}.Decide(LoginInput{User: tc.user, Policies: tc.policies, Factors: tc.factors,
				Client: LoginClient{ID: "app", MaxAge: tc.maxAge}, Now: now})
			if got.Outcome != tc.want.Outcome || got.Reason != tc.want.Reason || !slices.Equal(got.Steps, tc.want.Steps) {
				t.Fatalf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestDecideStepUp: a client that asks for MFA (acr_values naming only
// the multi-factor class) gets a second factor asked of a single-factor
// login whatever the policies say; a recovery code ("rc") is a second
// factor of its own kind, never a first.
func TestDecideStepUp(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	active := &ent.User{Status: UserActiveStatus}
	mfa := &ent.OrganizationPolicy{MfaRequired: true, AllowedLoginMethods: []string{"PASSWORD", "PASSKEY", "MAGIC_LINK", "SSO"}}
	pwd := Factor{Method: FactorPassword, At: now}
	otp := Factor{Method: FactorOTP, At: now}
	rc := Factor{Method: FactorRecoveryCode, At: now}
	hwk := Factor{Method: FactorHardwareKey, At: now}
	oldOTP := Factor{Method: FactorOTP, At: now.Add(-2 * time.Hour)}
	hour := time.Hour
	first := []string{StepPasskey, StepPassword, StepEmail, StepSSO}
	for _, tc := range []struct {
		name     string
		policies []*ent.OrganizationPolicy
		factors  []Factor
		clientMF bool
		maxAge   *time.Duration
		want     Decision
	}{
		{"client asks mfa: password alone needs a second factor", nil, []Factor{pwd}, true, nil, Decision{Outcome: Need, Steps: []string{StepMFA}}},
		{"client asks mfa: password and otp", nil, []Factor{pwd, otp}, true, nil, Decision{Outcome: Done}},
		{"client asks mfa: password and recovery code", nil, []Factor{pwd, rc}, true, nil, Decision{Outcome: Done}},
		{"client asks mfa: passkey and otp", nil, []Factor{hwk, otp}, true, nil, Decision{Outcome: Done}},
		{"client asks mfa: no factor needs a first one", nil, nil, true, nil, Decision{Outcome: Need, Steps: first}},
		{"client asks nothing: password alone is done", nil, []Factor{pwd}, false, nil, Decision{Outcome: Done}},
		{"mfa required: password and recovery code", []*ent.OrganizationPolicy{mfa}, []Factor{pwd, rc}, false, nil, Decision{Outcome: Done}},
		{"a recovery code alone is no sign-in", []*ent.OrganizationPolicy{mfa}, []Factor{rc}, false, nil, Decision{Outcome: Need, Steps: first}},
		{"otp and recovery code without a first factor", nil, []Factor{otp, rc}, true, nil, Decision{Outcome: Need, Steps: first}},
		{"max_age: an old second factor needs a second again", nil, []Factor{pwd, oldOTP}, true, &hour, Decision{Outcome: Need, Steps: []string{StepMFA}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := LoginPolicy{}.Decide(LoginInput{User: active, Policies: tc.policies, Factors: tc.factors,
				Client: LoginClient{ID: "app", MaxAge: tc.maxAge, MFA: tc.clientMF}, Now: now})
			if got.Outcome != tc.want.Outcome || got.Reason != tc.want.Reason || !slices.Equal(got.Steps, tc.want.Steps) {
				t.Fatalf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLifetimesOf(t *testing.T) {
	def := SessionLifetimes{Absolute: 7 * 24 * time.Hour, Idle: 24 * time.Hour}
	p := func(abs, idle int) *ent.OrganizationPolicy {
		return &ent.OrganizationPolicy{SessionAbsoluteLifetimeSeconds: abs, SessionIdleLifetimeSeconds: idle}
	}
	for _, tc := range []struct {
		name     string
		policies []*ent.OrganizationPolicy
		want     SessionLifetimes
	}{
		{"no policy: the default", nil, def},
		{"one policy, shorter", []*ent.OrganizationPolicy{p(3600, 600)}, SessionLifetimes{time.Hour, 10 * time.Minute}},
		{"one policy, longer than the default", []*ent.OrganizationPolicy{p(30*86400, 2*86400)}, SessionLifetimes{30 * 24 * time.Hour, 48 * time.Hour}},
		{"the strictest of each", []*ent.OrganizationPolicy{p(3600, 3000), p(7200, 600)}, SessionLifetimes{time.Hour, 10 * time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := LifetimesOf(def, tc.policies); got != tc.want {
				t.Fatalf("LifetimesOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// A second factor the user enrolled is asked at every sign-in, whatever
// the first: a password, an emailed link (a password reset) included.
func TestDecideEnrolledSecondFactor(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	active := &ent.User{Status: UserActiveStatus}
	pwd, email := Factor{Method: FactorPassword, At: now}, Factor{Method: FactorEmail, At: now}
	otp, rc := Factor{Method: FactorOTP, At: now}, Factor{Method: FactorRecoveryCode, At: now}
	needMFA := Decision{Outcome: Need, Steps: []string{StepMFA}}
	for _, tc := range []struct {
		name     string
		factors  []Factor
		enrolled bool
		want     Decision
	}{
		{"password alone", []Factor{pwd}, true, needMFA},
		{"an emailed link alone", []Factor{email}, true, needMFA},
		{"password and otp", []Factor{pwd, otp}, true, Decision{Outcome: Done}},
		{"email and recovery code", []Factor{email, rc}, true, Decision{Outcome: Done}},
		{"not enrolled: password alone", []Factor{pwd}, false, Decision{Outcome: Done}},
		{"a passkey (user-verified) alone", []Factor{{Method: FactorSoftwareKey, At: now}}, true, Decision{Outcome: Done}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := LoginPolicy{}.Decide(LoginInput{User: active, Factors: tc.factors, Now: now, SecondFactorEnrolled: tc.enrolled})
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// An upstream's methods are kept in their own namespace, of the kind of
// its sign-in; they count as multi-factor only when the connection trusts
// them, and then as "mfa" when they are multi-factor by themselves: they
// satisfy an organization that requires MFA and allows only SSO, while a
// single upstream factor (a passkey there included: nothing says it was
// user-verified), words outside RFC 8176, or an untrusted "mfa", "pwd"
// and "otp" do not. The tokens name the federation and the IdP's methods,
// never an untrusted "mfa".
func TestUpstreamFactors(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	active := &ent.User{Status: UserActiveStatus}
	ssoMFA := &ent.OrganizationPolicy{AllowedLoginMethods: []string{"SSO"}, MfaRequired: true}
	sso := Factor{Method: FactorSSOPrefix + "conn_1", At: now}
	for _, tc := range []struct {
		name    string
		trusted bool
		amr     []string
		added   []string // the methods UpstreamFactors adds
		token   []string // TokenAMR of the sign-in
		want    Outcome
	}{
		{"trusted mfa", true, []string{"mfa"}, []string{"mfa"}, []string{"fed", "mfa"}, Done},
		{"trusted password and otp", true, []string{"pwd", "otp"}, []string{"upstream:pwd", "upstream:otp", "mfa"}, []string{"fed", "pwd", "otp", "mfa"}, Done},
		{"trusted mfa with its methods", true, []string{"pwd", "mfa", "otp"}, []string{"upstream:pwd", "upstream:otp", "mfa"}, []string{"fed", "pwd", "otp", "mfa"}, Done},
		{"trusted password alone", true, []string{"pwd"}, []string{"upstream:pwd"}, []string{"fed", "pwd"}, Need},
		{"trusted passkey alone", true, []string{"hwk"}, []string{"upstream:hwk"}, []string{"fed", "hwk"}, Need},
		{"trusted, words outside RFC 8176", true, []string{"sso:conn_2", "pwd", "pwd", "x-push"}, []string{"upstream:pwd"}, []string{"fed", "pwd"}, Need},
		{"untrusted mfa", false, []string{"mfa"}, nil, []string{"fed"}, Need},
		{"untrusted password and otp", false, []string{"pwd", "otp"}, []string{"upstream:pwd", "upstream:otp"}, []string{"fed", "pwd", "otp"}, Need},
		{"untrusted password, otp and mfa", false, []string{"pwd", "otp", "mfa"}, []string{"upstream:pwd", "upstream:otp"}, []string{"fed", "pwd", "otp"}, Need},
		{"nothing reported", true, nil, nil, []string{"fed"}, Need},
	} {
		t.Run(tc.name, func(t *testing.T) {
			more := UpstreamFactors(tc.trusted, tc.amr, now)
			if got := AMR(more); !slices.Equal(got, tc.added) {
				t.Fatalf("UpstreamFactors = %v, want %v", got, tc.added)
			}
			for _, f := range more {
				if !f.At.Equal(now) {
					t.Errorf("factor %s proven at %v, want the IdP's %v", f.Method, f.At, now)
				}
			}
			fs := append([]Factor{sso}, more...)
			d := LoginPolicy{}.Decide(LoginInput{User: active, Policies: []*ent.OrganizationPolicy{ssoMFA}, Factors: fs, Now: now})
			if d.Outcome != tc.want {
				t.Fatalf("Decide(%v) = %+v", AMR(fs), d)
			}
			if MultiFactor(AMR(fs)) != (tc.want == Done) {
				t.Errorf("MultiFactor(%v) disagrees with the policy", AMR(fs))
			}
			if got := TokenAMR(AMR(fs)); !slices.Equal(got, tc.token) {
				t.Errorf("TokenAMR(%v) = %v, want %v", AMR(fs), got, tc.token)
			}
		})
	}
}

// TokenAMR leaves Gatehouse's own methods as they are, and a local
// second factor after a federated sign-in stays in the claim.
func TestTokenAMR(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{nil, nil},
		{[]string{"pwd", "otp"}, []string{"pwd", "otp"}},
		{[]string{"email", "rc"}, []string{"email", "rc"}},
		{[]string{"hwk"}, []string{"hwk"}},
		{[]string{"sso:conn_1", "upstream:pwd", "otp"}, []string{"fed", "pwd", "otp"}},
		{[]string{"sso:conn_1", "upstream:otp", "otp"}, []string{"fed", "otp"}},
		{[]string{"sso:conn_1", "sso:conn_2"}, []string{"fed"}},
	} {
		if got := TokenAMR(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("TokenAMR(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// enforce_sso reaches only a user whose address's domain the enforcing
// organization verified: for anyone else the policy's other rules apply,
// and the caller's policies are not changed.
func TestScopeEnforceSSO(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	active := &ent.User{Status: UserActiveStatus}
	all := []string{"PASSWORD", "PASSKEY", "MAGIC_LINK", "SSO"}
	acme := &ent.OrganizationPolicy{OrganizationID: "org_acme", EnforceSSO: true, AllowedLoginMethods: all}
	strict := &ent.OrganizationPolicy{OrganizationID: "org_strict", EnforceSSO: true, MfaRequired: true, AllowedLoginMethods: all}
	plain := &ent.OrganizationPolicy{OrganizationID: "org_plain", AllowedLoginMethods: all}
	pwd := []Factor{{Method: FactorPassword, At: now}}
	for _, tc := range []struct {
		name      string
		policies  []*ent.OrganizationPolicy
		domainOrg pulid.ID
		want      Decision
	}{
		{"at the enforcing organization's domain", []*ent.OrganizationPolicy{acme}, "org_acme", Decision{Outcome: Need, Steps: []string{StepSSO}}},
		{"at no verified domain", []*ent.OrganizationPolicy{acme}, "", Decision{Outcome: Done}},
		{"at another organization's domain", []*ent.OrganizationPolicy{acme, plain}, "org_plain", Decision{Outcome: Done}},
		{"the rest of the policy still applies", []*ent.OrganizationPolicy{strict}, "", Decision{Outcome: Need, Steps: []string{StepMFA}}},
		{"one of two enforcing organizations", []*ent.OrganizationPolicy{strict, acme}, "org_acme", Decision{Outcome: Need, Steps: []string{StepSSO}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scoped := ScopeEnforceSSO(tc.policies, tc.domainOrg)
			got := LoginPolicy{}.Decide(LoginInput{User: active, Policies: scoped, Factors: pwd, Now: now})
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decide = %+v, want %+v", got, tc.want)
			}
			if !acme.EnforceSSO || !strict.EnforceSSO {
				t.Fatal("ScopeEnforceSSO changed the caller's policies")
			}
		})
	}
}
