package web

import (
	"bytes"
	"crypto/rand"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/internal/i18n"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/ratelimit"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants"
)

//go:embed templates/*.html static/*
var files embed.FS

// Config configures the hosted pages.
type Config struct {
	// Flow is the OpenID Provider whose authorization requests the login
	// completes. Required.
	Flow Flow
	// SSO speaks to organizations' identity providers (login_sso.go);
	// nil turns enterprise SSO off.
	SSO SSO
	// Client is the database. Required. Web reads users' organizations
	// as the System viewer; sessions, credentials and consents go through
	// Tenants.
	Client *ent.Client
	// Tenants decides the identity rules (credentials, sessions, consents,
	// the login policy). Defaults to a service over Client with Now,
	// PasswordParams and Logger.
	Tenants *tenants.Service
	// Issuer is the public base URL. Cookies are Secure and carry the
	// __Host- prefix when it is https. Required.
	Issuer string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
	// SessionLifetime is a session's absolute lifetime when no
	// organization's policy sets one. Defaults to 7 days.
	SessionLifetime time.Duration
	// SessionIdleTimeout ends a session not used for this long when no
	// organization's policy sets it. Defaults to 24 hours.
	SessionIdleTimeout time.Duration
	// Limiter counts password sign-in attempts, before each password is
	// verified. Defaults to an in-memory one on Now (one node only).
	Limiter ratelimit.Limiter
	// AccountPolicy is each account's allowance (and, separately, each
	// known device's allowance for it). Defaults to DefaultAccountPolicy.
	AccountPolicy ratelimit.Policy
	// OTPPolicy is each account's allowance of second-factor codes, for
	// authenticator codes and recovery codes separately. Defaults to
	// DefaultOTPPolicy.
	OTPPolicy ratelimit.Policy
	// AddressPolicy is each client network's allowance (an IPv4 address,
	// an IPv6 /64). Defaults to DefaultAddressPolicy.
	AddressPolicy ratelimit.Policy
	// DeviceKeys sign device cookies (a browser that has signed in to an
	// account keeps its own allowance for it): the first signs, any
	// verifies, so that cookies signed before a key rotation still count.
	// Every node needs the same keys; cmd derives one from each master key.
	// Defaults to one random key: device cookies then last as long as the
	// process.
	DeviceKeys [][]byte
	// Mailer sends the pages' mail (codes, links, notices) in the
	// background. Defaults to one that logs that mail is not configured
	// and sends nothing.
	Mailer Mailer
	// MailLimiter counts requests that send mail (sign-in codes, signups),
	// per recipient and per client network, so that the pages cannot be
	// used to flood someone's inbox. Defaults to Limiter.
	MailLimiter ratelimit.Limiter
	// Catalog holds the pages' copy in every language they speak.
	// Defaults to i18n.Load().
	Catalog *i18n.Catalog
	// PasswordParams are the argon2id costs a password hash must meet, for
	// the default Tenants: weaker hashes are rehashed with them at sign-in,
	// and the dummy verification for unknown users (ATO-04) uses them too.
	// Defaults to password.Default; tests pass cheap ones.
	PasswordParams password.Params
}

// Web serves the hosted pages.
type Web struct {
	cfg       Config
	issuer    *url.URL
	secure    bool
	pages     map[string]*template.Template
	static    http.Handler
	handler   http.Handler // built once by New; Handler returns it
	sessionCk string
	csrfCk    string
	deviceCk  string
	loginCk   string // the login transaction (transaction.go)
	langCk    string // the chosen language (locale.go)
	// ceremonyCk names the browser's WebAuthn ceremony (passkey.go).
	ceremonyCk string
	// ssoCk binds an SSO attempt to its browser (login_sso.go).
	ssoCk string
	// discovery keeps home-realm discovery's answers briefly (discovery.go).
	discovery discoveryMemo
	// passkeys is the WebAuthn relying party (passkey.go); nil when the
	// issuer's host is an IP address, which cannot be an RP ID.
	passkeys *webauthn.WebAuthn
	// rejections writes the refusals anyone can repeat at will
	// (audit.go: limitedReasons), rate-limited.
	rejections *tenants.Audit
}

// page names; each has templates/<name>.html, rendered inside layout.html.
const (
	pageLogin        = "login"
	pageOrganization = "organization"
	pageConsent      = "consent"
	pageError        = "error"
	pageLoggedOut    = "logged-out"
	pageContinue     = "continue"
	pageIdentify     = "identify"
	pageEmailSent    = "email-sent"
	pageEmailLink    = "email-link"
	pageSignup       = "signup"
	pageAccount      = "account"
	pageRecover      = "recover"
	pageReset        = "reset"
	// The second-factor step (login_mfa.go, mfa_enroll.go).
	pageMFA           = "mfa"
	pageMFAEnroll     = "mfa-enroll"
	pageRecoveryCodes = "recovery-codes"
	pagePasskeys      = "passkeys" // passkey.go
	pageProfile       = "profile"  // login_profile.go
	pageSSOPost       = "sso-post" // login_sso.go
)

var pageNames = []string{pageLogin, pageOrganization, pageConsent, pageError, pageLoggedOut, pageContinue,
	pageIdentify, pageEmailSent, pageEmailLink, pageSignup, pageAccount, pageRecover, pageReset,
	pageMFA, pageMFAEnroll, pageRecoveryCodes, pagePasskeys, pageProfile, pageSSOPost,
	pagePortalLink, pagePortal, pagePortalResult} // portal.go

// New checks cfg and parses every page. A missing or broken page fails New.
func New(cfg Config) (*Web, error) { return newWithFS(cfg, files) }

func newWithFS(cfg Config, fsys fs.FS) (*Web, error) {
	var problems []string
	if cfg.Flow == nil {
		problems = append(problems, "Flow is required")
	}
	if cfg.Client == nil {
		problems = append(problems, "Client is required")
	}
	u, err := url.Parse(cfg.Issuer)
	if cfg.Issuer == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		problems = append(problems, "Issuer must be an absolute http(s) URL")
	}
	if cfg.PasswordParams == (password.Params{}) {
		cfg.PasswordParams = password.Default
	} else if err := cfg.PasswordParams.Validate(); err != nil {
		problems = append(problems, "PasswordParams: "+err.Error())
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("web config: %s", strings.Join(problems, "; "))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 7 * 24 * time.Hour
	}
	if cfg.SessionIdleTimeout <= 0 {
		cfg.SessionIdleTimeout = 24 * time.Hour
	}
	if cfg.Limiter == nil {
		cfg.Limiter = ratelimit.NewMemory(ratelimit.MemoryConfig{Now: cfg.Now})
	}
	if cfg.MailLimiter == nil {
		cfg.MailLimiter = cfg.Limiter
	}
	if cfg.Mailer == nil {
		cfg.Mailer = unconfiguredMailer{cfg.Logger}
	}
	if cfg.AccountPolicy == (ratelimit.Policy{}) {
		cfg.AccountPolicy = DefaultAccountPolicy
	}
	if cfg.OTPPolicy == (ratelimit.Policy{}) {
		cfg.OTPPolicy = DefaultOTPPolicy
	}
	if cfg.AddressPolicy == (ratelimit.Policy{}) {
		cfg.AddressPolicy = DefaultAddressPolicy
	}
	if len(cfg.DeviceKeys) == 0 {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		cfg.DeviceKeys = [][]byte{k}
	}
	if cfg.Catalog == nil {
		c, err := i18n.Load()
		if err != nil {
			return nil, fmt.Errorf("web config: %w", err)
		}
		cfg.Catalog = c
	}
	if cfg.Tenants == nil {
		cfg.Tenants = tenants.NewService(cfg.Client, tenants.WithClock(cfg.Now),
			tenants.WithPasswordParams(cfg.PasswordParams), tenants.WithLogger(cfg.Logger))
	}
	w := &Web{cfg: cfg, issuer: u, secure: u.Scheme == "https", pages: map[string]*template.Template{},
		rejections: cfg.Tenants.Audit()} // the node's one limit on refusal events
	w.sessionCk, w.csrfCk, w.deviceCk, w.loginCk = "gatehouse_session", "gatehouse_csrf", "gatehouse_device", "gatehouse_login"
	w.langCk = "gatehouse_lang"
	w.ceremonyCk = "gatehouse_webauthn"
	w.ssoCk = "gatehouse_sso"
	if w.secure {
		w.ssoCk = "__Secure-gatehouse_sso" // Path=/sso/, so not __Host-
		w.ceremonyCk = "__Host-gatehouse_webauthn"
		w.sessionCk, w.csrfCk, w.deviceCk, w.loginCk = "__Host-gatehouse_session", "__Host-gatehouse_csrf", "__Host-gatehouse_device", "__Host-gatehouse_login"
	}
	if net.ParseIP(u.Hostname()) != nil {
		// Browsers refuse an IP address as RP ID: no passkeys there.
		cfg.Logger.Warn("passkeys are off: the issuer's host is an IP address, which cannot be a WebAuthn RP ID", "issuer", cfg.Issuer)
	} else if w.passkeys, err = newRelyingParty(u); err != nil {
		return nil, fmt.Errorf("web config: passkeys: %w", err)
	}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		w.pages[name] = t
	}
	static, err := fs.Sub(fsys, "static")
	if err != nil {
		return nil, fmt.Errorf("open static files: %w", err)
	}
	w.static = http.StripPrefix("/static/", http.FileServerFS(static))
	w.handler = w.routes()
	return w, nil
}

var funcs = template.FuncMap{}

// Handler serves /login, /login/organization, /login/continue,
// /login/mfa (and /login/mfa/enroll, /login/mfa/continue),
// /login/logged-out, /login/passkey…, /consent, /account/passkeys… and
// /static/.
func (w *Web) Handler() http.Handler { return w.handler }

func (w *Web) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", w.getLogin)
	mux.HandleFunc("POST /login", w.postLogin)
	mux.HandleFunc("POST /login/identify", w.postIdentify)
	mux.HandleFunc("POST /login/sso", w.postOrganizationSSO)
	mux.HandleFunc("POST /login/email", w.postEmailLogin)
	mux.HandleFunc("POST /login/email/verify", w.postEmailCode)
	mux.HandleFunc("GET /login/email/link", w.getEmailLink)
	mux.HandleFunc("POST /login/email/link", w.postEmailLink)
	mux.HandleFunc("GET "+recoverPath, w.getRecover)
	mux.HandleFunc("POST "+recoverPath, w.postRecover)
	mux.HandleFunc("GET "+recoverPath+"/link", w.getRecoverLink)
	mux.HandleFunc("POST "+recoverPath+"/link", w.postRecoverLink)
	mux.HandleFunc("GET /signup", w.getSignup)
	mux.HandleFunc("POST /signup", w.postSignup)
	mux.HandleFunc("POST /signup/verify", w.postSignupCode)
	mux.HandleFunc("GET /signup/link", w.getEmailLink)
	mux.HandleFunc("POST /signup/link", w.postSignupLink)
	mux.HandleFunc("GET "+accountPath, w.getAccount)
	mux.HandleFunc("POST "+accountPath+"/sessions/revoke", w.postRevokeSession)
	mux.HandleFunc("POST "+accountPath+"/profile", w.postProfile)
	mux.HandleFunc("POST "+accountPath+"/email", w.postEmail)
	mux.HandleFunc("POST "+accountPath+"/email/verify", w.postEmailChangeCode)
	mux.HandleFunc("GET "+accountPath+"/email/link", w.getEmailLink)
	mux.HandleFunc("POST "+accountPath+"/email/link", w.postEmailChangeLink)
	mux.HandleFunc("POST "+accountPath+"/factors/remove", w.postRemoveFactor)
	mux.HandleFunc("POST "+accountPath+"/recovery-codes", w.postRecoveryCodes)
	mux.HandleFunc("POST /login/organization", w.postOrganization)
	mux.HandleFunc("POST /login/continue", w.postContinue)
	mux.HandleFunc("GET /login/mfa", w.getMFA)
	mux.HandleFunc("POST /login/mfa", w.postMFA)
	mux.HandleFunc("POST /login/mfa/enroll", w.postEnroll)
	mux.HandleFunc("POST /login/mfa/continue", w.postMFAContinue)
	mux.HandleFunc("GET /login/logged-out", w.getLoggedOut)
	mux.HandleFunc("POST /login/logged-out", w.postLoggedOut)
	mux.HandleFunc("POST /consent", w.postConsent)
	mux.HandleFunc("POST /login/profile", w.postProfileStep)
	mux.HandleFunc("GET /sso/oidc/{connection}/callback", w.getSSOCallback)
	mux.HandleFunc("POST /sso/saml/{connection}/acs", w.postSAMLACS)
	mux.HandleFunc("GET /sso/saml/{connection}/complete", w.getSAMLComplete)
	mux.HandleFunc("GET /sso/saml/{connection}/metadata", w.getSAMLMetadata)
	mux.HandleFunc("GET "+portalPath, w.getPortal)
	mux.HandleFunc("POST "+portalPath+"/test", w.postPortalTest)
	mux.HandleFunc("GET "+portalPath+"/{token}", w.getPortalLink)
	mux.HandleFunc("POST "+portalPath+"/{token}", w.postPortalLink)
	if w.passkeys != nil { // passkey.go, login_passkey.go
		mux.HandleFunc("POST /login/passkey/options", w.postPasskeyRequestOptions)
		mux.HandleFunc("POST /login/mfa/passkey/options", w.postPasskeySecondFactorOptions)
		mux.HandleFunc("POST /login/passkey", w.postLoginPasskey)
		mux.HandleFunc("GET /account/passkeys/new", w.getNewPasskey)
		mux.HandleFunc("POST /account/passkeys/options", w.postPasskeyCreationOptions)
		mux.HandleFunc("POST /account/passkeys", w.postPasskey)
	}
	mux.Handle("GET /static/", w.staticHandler())
	return w.headers(withPolicyMemo(mux))
}

// Paths lists the patterns to mount Handler under in a parent mux
// ("/login/" covers /login/organization, /login/continue, /login/mfa…,
// /login/passkey… and /login/logged-out; accountPath + "/" the account's
// pages, /account/passkeys/new among them).
func (w *Web) Paths() []string {
	return []string{"/login", "/login/", "/signup", "/signup/", accountPath, accountPath + "/", "/consent", "/sso/", portalPath, portalPath + "/", "/static/"}
}

func (w *Web) staticHandler() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Cache-Control", "public, max-age=3600")
		w.static.ServeHTTP(rw, r)
	})
}

// headers sets the security headers on every response: never cached,
// never framed (OIDC-14), never leaking the URL through Referer (OIDC-09).
// Pages add a CSP with a per-response style nonce; this one covers the
// rest (errors from the mux, static files).
func (w *Web) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		h := rw.Header()
		if w.secure {
			h.Set("Strict-Transport-Security", "max-age=63072000")
		}
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Content-Security-Policy", csp(""))
		next.ServeHTTP(rw, r)
	})
}

// csp is the Content-Security-Policy: our own scripts and styles only (no
// inline script at all), organization logos from https, never framed.
// There is no form-action directive: browsers apply it to the redirects
// after a form post, which must reach the application's redirect URI.
func csp(styleNonce string) string {
	style := "style-src 'self'"
	if styleNonce != "" {
		style += " 'nonce-" + styleNonce + "'"
	}
	return "default-src 'self'; script-src 'self'; " + style + "; img-src 'self' https:; " +
		"object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
}

// layout is what every page's layout.html reads.
type layout struct {
	Title string
	// L is the page's language; Languages the switcher to the others.
	L         *i18n.Locale
	Languages []language
	// Nonce allows the one inline <style> that sets the brand colour.
	Nonce string
	// Brand is the organization whose look the page takes, if any.
	Brand *brand
}

// brand is an organization's logo and colour, only when they are safe to
// put into the page (https URL, #rgb or #rrggbb colour).
type brand struct {
	Name    string
	LogoURL string
	Color   template.CSS
}

type loginPage struct {
	layout
	AuthRequest string
	CSRF        string
	ClientName  string
	Email       string
	Error       text
	// Passkeys offers the passkey sign-in (login_passkey.go).
	Passkeys bool
	// OrganizationSSO offers the request's organization's identity
	// provider (login_org.go).
	OrganizationSSO bool
}

type organizationPage struct {
	layout
	AuthRequest   string
	CSRF          string
	Ticket        string
	ClientName    string
	Organizations []organizationChoice
	Error         text
}

// ssoPostPage posts a SAML request to an identity provider
// (HTTP-POST binding; login_sso.go).
type ssoPostPage struct {
	layout
	Action string
	Fields map[string]string
}

// profilePage asks for the profile fields an application needs
// (login_profile.go).
type profilePage struct {
	layout
	AuthRequest, CSRF, Ticket, ClientName string
	AskName, AskGivenName, AskFamilyName  bool
	Name, GivenName, FamilyName           string
	Error                                 text
}

type organizationChoice struct {
	ID, Name, Slug string
	LogoURL        string
}

type consentPage struct {
	layout
	AuthRequest  string
	CSRF         string
	Ticket       string
	Organization string
	ClientName   string
	UserEmail    string
	UserName     string
	Scopes       []string
}

// continuePage asks a signed-in user, for prompt=select_account, whether
// to continue with this account.
type continuePage struct {
	layout
	AuthRequest string
	CSRF        string
	Ticket      string
	ClientName  string
	UserEmail   string
	UserName    string
}

// Who names the signed-in user: "Ada Lovelace (ada@example.com)", or the
// address alone.
func (p *consentPage) Who() string { return who(p.UserName, p.UserEmail) }

// Who names the signed-in user, as consentPage.Who.
func (p *continuePage) Who() string { return who(p.UserName, p.UserEmail) }

func who(name, email string) string {
	if name == "" {
		return email
	}
	return name + " (" + email + ")"
}

type errorPage struct {
	layout
	Message text
}

type loggedOutPage struct {
	layout
	// Confirm asks "Sign out?" with a form (the browser still has a
	// session); otherwise the page says the browser is signed out.
	Confirm bool
	CSRF    string
}

// page is the data of one page: layout.html reads its embedded layout.
type page interface{ base() *layout }

func (l *layout) base() *layout { return l }

// renderLogin shows the ways to sign in as p.Email (the second step).
func (w *Web) renderLogin(rw http.ResponseWriter, r *http.Request, status int, p loginPage) {
	p.Passkeys = w.passkeys != nil
	w.render(rw, r, status, pageLogin, "page.title.sign_in", &p)
}

// renderIdentify shows the email field alone (the first step).
func (w *Web) renderIdentify(rw http.ResponseWriter, r *http.Request, status int, p loginPage) {
	p.Passkeys = w.passkeys != nil
	w.render(rw, r, status, pageIdentify, "page.title.sign_in", &p)
}

func (w *Web) renderOrganization(rw http.ResponseWriter, r *http.Request, status int, p organizationPage) {
	w.render(rw, r, status, pageOrganization, "page.title.choose_org", &p)
}

func (w *Web) renderContinue(rw http.ResponseWriter, r *http.Request, status int, p continuePage) {
	w.render(rw, r, status, pageContinue, "page.title.choose_account", &p)
}

func (w *Web) renderSSOPost(rw http.ResponseWriter, r *http.Request, p ssoPostPage) {
	w.render(rw, r, http.StatusOK, pageSSOPost, "page.title.sso", &p)
}

func (w *Web) renderProfile(rw http.ResponseWriter, r *http.Request, status int, p profilePage) {
	w.render(rw, r, status, pageProfile, "page.title.profile", &p)
}

func (w *Web) renderConsent(rw http.ResponseWriter, r *http.Request, status int, p consentPage) {
	w.render(rw, r, status, pageConsent, "page.title.allow", &p)
}

// renderError shows one plain sentence and nothing to click: an error never
// sends the browser anywhere (OIDC-02).
func (w *Web) renderError(rw http.ResponseWriter, r *http.Request, status int, key string) {
	w.renderErrorText(rw, r, status, say(key))
}

// renderErrorText is renderError for a sentence with placeholders.
func (w *Web) renderErrorText(rw http.ResponseWriter, r *http.Request, status int, message text) {
	w.render(rw, r, status, pageError, "page.title.error", &errorPage{Message: message})
}

// renderLoggedOut asks "Sign out?" (p.Confirm) or says the browser is
// signed out. It links nowhere: the page is reached from any application's
// logout, so it must not guess where to send the user (OIDC-02).
func (w *Web) renderLoggedOut(rw http.ResponseWriter, r *http.Request, status int, p loggedOutPage) {
	title := "page.title.signed_out"
	if p.Confirm {
		title = "page.title.sign_out"
	}
	w.render(rw, r, status, pageLoggedOut, title, &p)
}

// render gives p its language, its title (a catalog key) and a fresh style
// nonce, executes page name into a buffer and only then writes it, so a
// failed template never sends half a page.
func (w *Web) render(rw http.ResponseWriter, r *http.Request, status int, name, titleKey string, p page) {
	l := p.base()
	l.L = w.locale(rw, r)
	if name != pageError && name != pageLoggedOut { // these pages link nowhere (OIDC-02)
		l.Languages = w.languages(r, l.L)
	}
	l.Title, l.Nonce = l.L.T(titleKey), newNonce()
	var buf bytes.Buffer
	if err := w.pages[name].Execute(&buf, p); err != nil {
		w.cfg.Logger.Error("render page", "page", name, "err", err)
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(rw, l.L.T("page.error.render")+"\n")
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("Content-Security-Policy", csp(l.Nonce))
	rw.WriteHeader(status)
	_, _ = buf.WriteTo(rw)
}

// newNonce is a CSP nonce: 16 random bytes, base32 (a valid nonce value).
func newNonce() string { return secret.Token(16) }
