package federation

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// LoginRequest is what an application asked of a sign-in, as the hosted
// pages see it, whatever protocol it arrived by.
type LoginRequest struct {
	// ID names the pending request (an OIDC auth request id).
	ID         string
	ClientID   string
	ClientName string
	// ApplicationID is the application's id (app_…), for the funnel counts.
	ApplicationID pulid.ID
	// FirstParty applications skip the consent screen.
	FirstParty bool
	Scopes     []string
	// Prompt values (none, login, consent, select_account; OIDC Core §3.1.2.1).
	Prompt    []string
	LoginHint string
	// MaxAge is the oldest authentication the client accepts, when it set max_age.
	MaxAge *time.Duration
	// RequestedOrganizationID is the organization the application named
	// (scope organization:<id>).
	RequestedOrganizationID string
	// WantsOrganization is true when the sign-in must end with an
	// organization chosen (or the requested one).
	WantsOrganization bool
	// ACRValues are the client's acr_values this instance defines
	// (ACRSingleFactor, ACRMultiFactor), most preferred first. They are
	// voluntary (OIDC Core §3.1.2.1): the login should step up to the
	// first it can, and the tokens state the ACR actually achieved.
	ACRValues []string
	// ProfileFields are the profile claims the application needs
	// (tenants.ProfileFields); a user without one is asked before the
	// sign-in completes (tenants.MissingProfile).
	ProfileFields []string
	ExpiresAt     time.Time
}

// Authentication is what a completed sign-in proved about the user.
type Authentication struct {
	UserID    pulid.ID
	SessionID pulid.ID
	// OrganizationID is the chosen organization; required when the request
	// wants one, and must equal RequestedOrganizationID when that is set
	// (empty then means "the requested one").
	OrganizationID pulid.ID
	// AuthTime is when the user last actively authenticated (OIDC Core §2
	// auth_time); zero means now.
	AuthTime time.Time
	// AMR lists the methods proven (RFC 8176: "pwd", "otp", "hwk", …).
	AMR []string
	// ACR is ACRSingleFactor or ACRMultiFactor; empty means "derive it from
	// AMR". A claim stronger than AMR supports is lowered to what AMR
	// supports; any other value is ErrUnknownACR.
	ACR string
	// DeviceID is the browser's device cookie id (the session's), which
	// the sign-in's user.login event records (tenants.LoginEvent).
	DeviceID string
}

// Authentication context class references (OIDC Core §2 acr) Gatehouse
// asserts, weakest first.
const (
	// ACRSingleFactor: one factor (a password, or a passkey without user
	// verification).
	ACRSingleFactor = "urn:gatehouse:acr:1fa"
	// ACRMultiFactor: two factors of different kinds.
	ACRMultiFactor = "urn:gatehouse:acr:mfa"
)

// Errors of completing a LoginRequest (compare with errors.Is).
var (
	// ErrUnknownRequest: the request does not exist, has expired or was
	// already completed. The page should say the link is stale.
	ErrUnknownRequest = errors.New("unknown or expired login request")
	// ErrNotMember: the organization is required or chosen, and the user
	// has no active membership in it.
	ErrNotMember = errors.New("user is not an active member of the organization")
	// ErrUserInactive: the user does not exist or is disabled.
	ErrUserInactive = errors.New("user is not active")
	// ErrReauthenticate: max_age or prompt=login asks for a fresher
	// authentication than Authentication.AuthTime (OIDC Core §3.1.2.1).
	ErrReauthenticate = errors.New("authentication is too old for this request")
	// ErrUnknownACR: Authentication.ACR is neither empty nor one of
	// ACRSingleFactor, ACRMultiFactor.
	ErrUnknownACR = errors.New("unknown authentication context class")
	// ErrPolicyRefused: the organization's sign-in policy (the one in
	// question, or the user's organizations' for a sign-in into none) does
	// not accept the authentication's methods (tenants.LoginPolicy): the
	// pages ask before completing, so this is a policy that changed
	// meanwhile, or a page that forgot to ask.
	ErrPolicyRefused = errors.New("the organization's sign-in policy refuses this authentication")
)

// Identity is what an upstream identity provider asserted about the
// person who signed in there. The connector has verified it (signature,
// audience, time); mapping it to a user and membership is federation's
// job, not the connector's.
type Identity struct {
	// ConnectionID is the organization's connection that asserted it.
	ConnectionID pulid.ID
	// Subject is the upstream's stable id for the person (SAML NameID,
	// OIDC sub), unique within the connection.
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	GivenName     string
	FamilyName    string
	// Groups the upstream says the person is in, for role mapping.
	Groups []string
	// Attributes are every attribute (SAML) or claim (OIDC) the upstream
	// sent, by name, each with its values as text: the source of custom
	// mappings into user metadata and of a connection's test results.
	Attributes map[string][]string
	// AMR are the methods the upstream says it used; trusted only when the
	// connection is configured to trust them (SECURITY-CHECKLIST ATO-05 i).
	AMR []string
	// AuthTime is when the person authenticated upstream, if it says.
	AuthTime time.Time
}

// BeginRequest starts a sign-in at an upstream identity provider.
type BeginRequest struct {
	// CallbackURL is where the upstream answers (the ACS or redirect URI).
	CallbackURL string
	// LoginHint is the email the person typed, if any.
	LoginHint string
	// ForceAuthn asks the upstream to authenticate again (prompt=login,
	// SAML ForceAuthn).
	ForceAuthn bool
	// RelayState, when set, is an opaque token (at most 80 bytes, SAML
	// Bindings §3.4.3) the upstream sends back with its answer, by which
	// the pages find the sign-in it answers. Never a URL (SAML-14).
	RelayState string
}

// Step is how to reach the upstream: a redirect, or a form the page
// auto-submits (SAML HTTP-POST binding), so that connectors never write
// HTML.
type Step struct {
	// RedirectURL, when set, is where to send the browser (303).
	RedirectURL string
	// FormAction and FormFields, when FormAction is set, are a form to
	// post from the browser.
	FormAction string
	FormFields map[string]string
	// State comes back to Finish unchanged; the page keeps it server-side
	// with the login transaction.
	State []byte
}

// Connector starts and finishes a sign-in at one organization's upstream
// identity provider. The hosted pages call Begin once per attempt and
// Finish once per answer.
type Connector interface {
	// Begin says how to reach the IdP; Step.State comes back to Finish
	// unchanged.
	Begin(ctx context.Context, req BeginRequest) (Step, error)
	// Finish verifies the IdP's answer and returns the asserted identity.
	// An error means the answer is not to be trusted; its text is for the
	// audit log and the connection's test results, never for the browser.
	Finish(ctx context.Context, r *http.Request, state []byte) (Identity, error)
}

// Rejection is a connector's refusal of an upstream answer in protocol-
// neutral words: Code is a stable word programs branch on
// (audience_mismatch, nonce_mismatch…), Reason the precise sentence for the
// audit trail and the connection's administrator, never for the browser.
// federation/saml and federation/oidc refuse with it directly (their
// Rejection is this type), each with its own Code… words.
type Rejection struct {
	Code, Reason string
	Err          error
}

func (r *Rejection) Error() string { return r.Code + ": " + r.Reason }

// Unwrap returns the underlying library or transport error, if any.
func (r *Rejection) Unwrap() error { return r.Err }

// RejectionOf returns err's code and reason: a Rejection's own, else
// "error" and err's text.
func RejectionOf(err error) (code, reason string) {
	var r *Rejection
	if errors.As(err, &r) {
		return r.Code, r.Reason
	}
	return "error", err.Error()
}
