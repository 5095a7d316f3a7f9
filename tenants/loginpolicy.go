package tenants

import (
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/factor"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// Factor is one authentication factor a login proved, and when.
type Factor = factor.Proven

// Factor methods (Factor.Method), named as RFC 8176 names them where it
// does; an upstream sign-in is "sso:<connection id>", and the methods its
// IdP said it used are "upstream:<RFC 8176 value>" (UpstreamFactors).
// FactorOTP is a code from an authenticator app (RFC 6238).
// FactorRecoveryCode is one of the user's recovery codes (a NIST SP
// 800-63B look-up secret), for which RFC 8176 has no value: Gatehouse says
// "rc" rather than "otp", so that amr stays honest about how the second
// factor was proven (an application may want to notice that its user has
// lost their authenticator). Like "otp" it is only ever a second factor,
// of a kind of its own, and a possession factor for the acr the provider
// derives. A passkey ("hwk" or "swk") is always user-verified here (see
// MultiFactor).
const (
	FactorPassword     = "pwd"
	FactorOTP          = "otp"
	FactorRecoveryCode = "rc"
	FactorHardwareKey  = "hwk"
	FactorSoftwareKey  = "swk"
	FactorEmail        = "email"
	FactorSSOPrefix    = "sso:"
	// FactorUpstreamPrefix namespaces what an upstream IdP reported
	// (UpstreamFactors): "upstream:pwd" is the IdP's word that it checked
	// a password, never a password of this instance.
	FactorUpstreamPrefix = "upstream:"
	// FactorUpstreamMFA is what an upstream multi-factor sign-in adds
	// when its connection trusts the IdP (UpstreamFactors): RFC 8176's
	// "mfa", a kind of its own, never a first factor.
	FactorUpstreamMFA = "mfa"
)

// AMRFederated is the amr value (TokenAMR) of a sign-in at an
// organization's identity provider. RFC 8176's registry has no value for
// federation; "fed" is the one Microsoft Entra ID emits for a federated
// IdP's assertion, the closest thing to common usage.
const AMRFederated = "fed"

// Steps a login may still need (Decision.Steps), in the order a page
// should offer them.
const (
	StepIdentify = "identify" // who is signing in
	StepPassword = "password"
	StepPasskey  = "passkey"
	StepEmail    = "email" // a magic link or code
	StepSSO      = "sso"   // the organization's identity provider
	StepMFA      = "mfa"   // a second factor of another kind
)

// Reasons a login is refused (Decision.Reason), machine-readable; the
// pages say one sentence for each.
const (
	RefuseUserInactive     = "user_inactive"
	RefuseMethodNotAllowed = "method_not_allowed"
)

// Outcome is the kind of a Decision.
type Outcome int

// The outcomes of LoginPolicy.Decide.
const (
	// Done: the login may complete.
	Done Outcome = iota
	// Need: it may complete after one of Steps.
	Need
	// Refuse: it cannot complete; Reason says why.
	Refuse
)

// Decision is what LoginPolicy.Decide answers.
type Decision struct {
	Outcome Outcome
	Steps   []string
	Reason  string
}

// LoginClient is what the application asked of the login.
type LoginClient struct {
	ID string
	// MaxAge, when set, is the oldest factor the application accepts
	// (OIDC Core §3.1.2.1 max_age): older ones do not count.
	MaxAge *time.Duration
	// MFA: the application asked for multi-factor authentication (its
	// acr_values name only the multi-factor class), so a single-factor
	// login needs a second factor (step-up), whatever the policies say.
	MFA bool
}

// LoginInput is everything Decide looks at.
type LoginInput struct {
	// User is who is signing in; nil until identified.
	User *ent.User
	// Policies are the rules that apply: the policy of the organization in
	// question, or, when the login is into no organization in particular,
	// those of every organization where the user is an active member (a
	// token without an organization still reaches all of them). The
	// strictest rule of each kind wins; none means the instance defaults
	// (any method, one factor).
	Policies []*ent.OrganizationPolicy
	// Factors are those proven in this login so far.
	Factors []Factor
	Client  LoginClient
	Now     time.Time
	// SecondFactorEnrolled: the user holds a second factor
	// (SecondFactors.Any). Its owner expects it at every sign-in, and an
	// emailed link or a password reset must not get around it (ATO-05 f).
	// The pages, which ask for factors, set it; a caller that only checks
	// a finished sign-in against the organization's rules (the provider's
	// CompleteLogin) may leave it false.
	SecondFactorEnrolled bool
}

// LoginPolicy decides whether a login may complete. It is a pure
// function of its input: every sign-in path (a fresh sign-in, a reused
// session, the organization picker, consent) asks it after each step and
// shows the step it names.
type LoginPolicy struct{}

// Decide says whether in may complete (Done), what it still needs (Need)
// or why it never can (Refuse). Rules, in order:
//   - an unknown user needs identifying; an inactive one is refused;
//   - a proven factor whose method some policy does not allow refuses the
//     login (allowedLoginMethods);
//   - without a current first factor (a one-time code is only ever a
//     second), the login needs one the policies allow (only SSO when a
//     policy enforces it);
//   - enforceSSO needs a factor from an upstream sign-in;
//   - mfaRequired, a client that asks for MFA (LoginClient.MFA), or a
//     second factor the user has enrolled (SecondFactorEnrolled), needs a
//     multi-factor sign-in (MultiFactor).
func (LoginPolicy) Decide(in LoginInput) Decision {
	if in.User == nil {
		return Decision{Outcome: Need, Steps: []string{StepIdentify}}
	}
	if !IsActiveUser(in.User) {
		return Decision{Outcome: Refuse, Reason: RefuseUserInactive}
	}
	var mfa, sso bool
	allowed := map[LoginMethod]bool{LoginPassword: true, LoginPasskey: true, LoginMagicLink: true, LoginSSO: true}
	for _, p := range in.Policies {
		mfa = mfa || p.MfaRequired
		sso = sso || p.EnforceSSO
		for m := range allowed {
			if !slices.Contains(p.AllowedLoginMethods, string(m)) {
				delete(allowed, m)
			}
		}
	}
	var current []string
	var upstream, first bool
	for _, f := range in.Factors {
		if in.Client.MaxAge != nil && in.Now.Sub(f.At) > *in.Client.MaxAge {
			continue
		}
		m, isFirst := factorLoginMethod(f.Method)
		if isFirst && !allowed[m] {
			return Decision{Outcome: Refuse, Reason: RefuseMethodNotAllowed}
		}
		first = first || isFirst
		current = append(current, f.Method)
		upstream = upstream || strings.HasPrefix(f.Method, FactorSSOPrefix)
	}
	switch {
	case !first && sso:
		return Decision{Outcome: Need, Steps: []string{StepSSO}}
	case !first:
		var steps []string
		for _, s := range []struct {
			m    LoginMethod
			step string
		}{{LoginPasskey, StepPasskey}, {LoginPassword, StepPassword}, {LoginMagicLink, StepEmail}, {LoginSSO, StepSSO}} {
			if allowed[s.m] {
				steps = append(steps, s.step)
			}
		}
		if len(steps) == 0 { // a policy update keeps one method; policies of two organizations may share none
			return Decision{Outcome: Refuse, Reason: RefuseMethodNotAllowed}
		}
		return Decision{Outcome: Need, Steps: steps}
	case sso && !upstream:
		return Decision{Outcome: Need, Steps: []string{StepSSO}}
	case (mfa || in.Client.MFA || in.SecondFactorEnrolled) && !MultiFactor(current):
		return Decision{Outcome: Need, Steps: []string{StepMFA}}
	}
	return Decision{Outcome: Done}
}

// factorLoginMethod is the policy's name for a first-factor method, and
// whether it is one (a one-time code is only ever a second factor).
func factorLoginMethod(method string) (LoginMethod, bool) {
	switch {
	case method == FactorPassword:
		return LoginPassword, true
	case method == FactorHardwareKey || method == FactorSoftwareKey:
		return LoginPasskey, true
	case method == FactorEmail:
		return LoginMagicLink, true
	case strings.HasPrefix(method, FactorSSOPrefix):
		return LoginSSO, true
	}
	return "", false
}

// kindOf groups methods (RFC 8176 amr values, and Gatehouse's own) that
// prove the same thing: two connections' sign-ins are one kind of factor,
// and so is everything their IdPs reported ("upstream:…": one sign-in
// there, whatever it says it took), as are the two kinds of passkey, the
// things a person knows (a password, a PIN, answers) and the parts of a
// person (a fingerprint, a face…). Every other method is a kind of its
// own: an authenticator app's code ("otp"), a recovery code ("rc") or an
// emailed code or link ("email") after a password makes two, and so does
// an emailed link and an authenticator app's code, each a different thing
// the person holds.
func kindOf(method string) string {
	switch {
	case strings.HasPrefix(method, FactorSSOPrefix) || strings.HasPrefix(method, FactorUpstreamPrefix):
		return "sso"
	case method == FactorHardwareKey || method == FactorSoftwareKey:
		return "passkey"
	case method == FactorPassword || method == "pin" || method == "kba":
		return "knowledge"
	case method == "fpt" || method == "face" || method == "iris" || method == "retina" || method == "vbm":
		return "inherence"
	}
	return method
}

// kinds counts the kinds (kindOf) of methods.
func kinds(methods []string) int {
	seen := map[string]bool{}
	for _, m := range methods {
		seen[kindOf(m)] = true
	}
	return len(seen)
}

// MultiFactor reports whether a sign-in that proved the methods of amr
// (Factor.Method values: a session's amr) is multi-factor: the one rule,
// which LoginPolicy requires (mfaRequired, a client's acr_values, an
// enrolled second factor) and the provider's acr states. It is when
//   - the methods are of at least two kinds (kindOf): what an upstream
//     IdP reported ("upstream:…") is of the kind of its sign-in, so an
//     IdP's "pwd" and "otp" beside "sso:" are one kind (ATO-05 i);
//   - an upstream whose connection trusts it proved several factors
//     ("mfa", added by UpstreamFactors only then);
//   - or a passkey signed in ("hwk", "swk"). Every passkey assertion this
//     instance accepts carries the UV flag (web's passkey step requires
//     user verification and refuses an assertion without it, PK-04): the
//     authenticator checked a PIN or a biometric before it signed. NIST
//     SP 800-63B counts such a multi-factor cryptographic authenticator
//     (rev. 3 §5.1.8–5.1.9; synced passkeys included by its supplement on
//     syncable authenticators) as two factors, and Okta, Auth0 and Entra
//     ID count FIDO2 with user verification as MFA. A passkey sign-in therefore satisfies
//     mfaRequired by itself and needs no one-time code after it.
func MultiFactor(amr []string) bool {
	for _, m := range amr {
		if m == FactorUpstreamMFA || m == FactorHardwareKey || m == FactorSoftwareKey {
			return true
		}
	}
	return kinds(amr) >= 2
}

// UpstreamFactors are the factors an upstream sign-in adds to its own
// ("sso:<connection>") from the methods the IdP says it used (amr, RFC
// 8176; a SAML AuthnContextClassRef mapped to those words), as of at:
//   - each RFC 8176 method it named, as "upstream:<method>", so that the
//     tokens can say what the upstream did (TokenAMR). They are of the
//     upstream sign-in's kind (kindOf): the IdP's "pwd" is not a password
//     of this instance (which an organization's allowed methods speak
//     of), and its "pwd" and "otp" are not two factors here;
//   - "mfa" when the connection trusts the IdP (trust_upstream_amr) and
//     its methods are multi-factor by themselves ("mfa", or two kinds).
//     Only then does the sign-in count as multi-factor: otherwise an
//     IdP's "mfa" is a claim anyone who runs that IdP can make (ATO-05
//     i). An untrusted IdP's "mfa" is dropped, so that no token carries
//     it (an application may read amr for "mfa").
//
// Words outside RFC 8176 say nothing and are dropped.
func UpstreamFactors(trusted bool, amr []string, at time.Time) []Factor {
	var words []string
	var fs []Factor
	for _, m := range amr {
		if !slices.Contains(rfc8176Methods, m) || slices.Contains(words, m) {
			continue
		}
		words = append(words, m)
		if m != FactorUpstreamMFA {
			fs = append(fs, Factor{Method: FactorUpstreamPrefix + m, At: at})
		}
	}
	if trusted && (slices.Contains(words, FactorUpstreamMFA) || kinds(words) >= 2) {
		fs = append(fs, Factor{Method: FactorUpstreamMFA, At: at})
	}
	return fs
}

// rfc8176Methods is the IANA registry of amr values (RFC 8176 §2): what an
// upstream may say; anything else it sends says nothing.
var rfc8176Methods = []string{"face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pwd",
	"rba", "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia"}

// TokenAMR is the amr claim (OIDC Core §2) of a sign-in whose factors'
// methods are methods (a session's amr, as stored): what the tokens tell
// applications. A sign-in at an organization's IdP is "fed"
// (AMRFederated), followed by the RFC 8176 methods that IdP reported
// ("upstream:pwd" → "pwd"); Gatehouse's own methods are unchanged. The
// connection ("sso:conn_…") stays out: it is this instance's internal
// name, which no application can interpret, and the token's organization
// claims already say whose IdP it was. An IdP's words in amr report what
// it said it did; the acr (MultiFactor) is what this instance vouches
// for, and an untrusted IdP's "mfa" never reaches amr (UpstreamFactors).
// Values are distinct, in the order proven.
func TokenAMR(methods []string) []string {
	var amr []string
	for _, m := range methods {
		switch {
		case strings.HasPrefix(m, FactorSSOPrefix):
			m = AMRFederated
		case strings.HasPrefix(m, FactorUpstreamPrefix):
			m = strings.TrimPrefix(m, FactorUpstreamPrefix)
		}
		if !slices.Contains(amr, m) {
			amr = append(amr, m)
		}
	}
	return amr
}

// FactorsOf are the factors of a session: its methods, proven at its
// sign-in.
func FactorsOf(amr []string, authTime time.Time) []Factor {
	fs := make([]Factor, 0, len(amr))
	for _, m := range amr {
		fs = append(fs, Factor{Method: m, At: authTime})
	}
	return fs
}

// AMR lists the distinct methods of fs (RFC 8176), in the order proven.
func AMR(fs []Factor) []string {
	var amr []string
	for _, f := range fs {
		if !slices.Contains(amr, f.Method) {
			amr = append(amr, f.Method)
		}
	}
	return amr
}

// ScopeEnforceSSO returns policies as they apply to a user whose
// address's domain the organization domainOrg VERIFIED ("" when none
// did): an organization's enforce_sso reaches only its members with an
// email at one of its verified domains, who cannot use a password or an
// emailed link and are sent to its identity provider (issue 10). Anyone
// else it counts as a member — a contractor at gmail.com, a partner's
// employee — keeps the methods the rest of the policy allows: the
// organization's IdP does not know them, and home-realm discovery would
// never send them there. This is the one rule; every reader of the login
// policies (LoginPolicies, endDisallowedSignIns, and through them the
// pages, the provider and password recovery) applies it. A policy that
// changes is a copy; policies itself is not modified.
func ScopeEnforceSSO(policies []*ent.OrganizationPolicy, domainOrg pulid.ID) []*ent.OrganizationPolicy {
	var out []*ent.OrganizationPolicy
	for i, p := range policies {
		if !p.EnforceSSO || p.OrganizationID == domainOrg {
			continue
		}
		if out == nil {
			out = slices.Clone(policies)
		}
		c := *p
		c.EnforceSSO = false
		out[i] = &c
	}
	if out == nil {
		return policies
	}
	return out
}

// SessionLifetimes bound a session and the refresh tokens issued from
// it: Absolute from the sign-in, Idle since the last use.
type SessionLifetimes struct {
	Absolute, Idle time.Duration
}

// DefaultSessionLifetimes apply when no organization's policy does.
var DefaultSessionLifetimes = SessionLifetimes{Absolute: 7 * 24 * time.Hour, Idle: 24 * time.Hour}

// LifetimesOf is the strictest of the policies' session lifetimes
// (sessionAbsoluteLifetimeSeconds, sessionIdleLifetimeSeconds), or def
// when there is no policy: an organization may allow longer sessions than
// the default as well as shorter ones.
func LifetimesOf(def SessionLifetimes, policies []*ent.OrganizationPolicy) SessionLifetimes {
	if len(policies) == 0 {
		return def
	}
	l := SessionLifetimes{Absolute: time.Duration(1<<63 - 1), Idle: time.Duration(1<<63 - 1)}
	for _, p := range policies {
		l.Absolute = min(l.Absolute, time.Duration(p.SessionAbsoluteLifetimeSeconds)*time.Second)
		l.Idle = min(l.Idle, time.Duration(p.SessionIdleLifetimeSeconds)*time.Second)
	}
	return l
}
