package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/ratelimit"
)

// Mailer sends one mail of a kind (internal/mail's templates:
// "signup_verify", "signup_exists", "login_code", "password_reset",
// "password_changed", "mfa_added", "new_device", …) to one address, in
// the language acceptLanguage prefers. It must return at once and send in
// the background, whatever the mail server does, so that a request for
// an address with an account takes as long as one for an address without
// (SECURITY-CHECKLIST ATO-04).
type Mailer interface {
	Mail(ctx context.Context, acceptLanguage, kind, to string, data map[string]any)
}

// unconfiguredMailer is the Mailer of an instance without mail: it logs
// that a mail was due, never its contents.
type unconfiguredMailer struct{ log *slog.Logger }

func (m unconfiguredMailer) Mail(ctx context.Context, _, kind, _ string, _ map[string]any) {
	m.log.ErrorContext(ctx, "mail is not configured; a mail was not sent", "kind", kind)
}

// Mail throttle policies: how often one address may be sent a code or a
// link, and how many such requests one client network may make. Neither
// ever blocks signing in another way.
var (
	// DefaultRecipientPolicy: 3 mails at once to one address, then one a
	// minute, growing to one an hour.
	DefaultRecipientPolicy = ratelimit.Policy{Free: 3, Base: time.Minute, Max: time.Hour, Forget: 24 * time.Hour, KeepOnSuccess: true}
	// DefaultMailAddressPolicy: 10 mail requests at once per client network.
	DefaultMailAddressPolicy = ratelimit.Policy{Free: 10, Base: 10 * time.Second, Max: time.Hour, Forget: time.Hour, KeepOnSuccess: true}
)

// reserveMail counts one mail to email from r's network. It returns how
// long to wait when either is over its allowance (nothing was counted).
func (w *Web) reserveMail(r *http.Request, email string) (time.Duration, error) {
	sum := sha256.Sum256([]byte(email))
	_, wait, err := w.cfg.MailLimiter.Attempt(r.Context(),
		ratelimit.Key{Name: "mail-to:" + hex.EncodeToString(sum[:16]), Policy: DefaultRecipientPolicy},
		ratelimit.Key{Name: "mail-addr:" + httpserver.ClientNetwork(r), Policy: DefaultMailAddressPolicy},
	)
	if err != nil {
		return 0, fmt.Errorf("count mail request: %w", err)
	}
	return wait, nil
}

// reserveCode counts one typed code from r's network on the sign-in
// throttle's address key (the challenge itself allows
// tenants.EmailCodeAttempts).
func (w *Web) reserveCode(r *http.Request) (time.Duration, error) {
	_, wait, err := w.cfg.Limiter.Attempt(r.Context(),
		ratelimit.Key{Name: "addr:" + httpserver.ClientNetwork(r), Policy: w.cfg.AddressPolicy})
	if err != nil {
		return 0, fmt.Errorf("count code attempt: %w", err)
	}
	return wait, nil
}

// tooMany answers a throttled request: 429 with Retry-After, and the
// sentence to show.
func tooMany(rw http.ResponseWriter, wait time.Duration) text {
	secs := int((wait + time.Second - 1) / time.Second)
	rw.Header().Set("Retry-After", strconv.Itoa(secs))
	return say("page.error.too_many", "wait", waitText(secs))
}

// link is an absolute URL on this instance, from the configured issuer
// only — never from the request's Host or X-Forwarded-Host, which an
// attacker could point at their own server (SECURITY-CHECKLIST ATO-06).
func (w *Web) link(path string, q url.Values) string {
	u := w.issuer.JoinPath(path)
	u.RawQuery = q.Encode()
	return u.String()
}
