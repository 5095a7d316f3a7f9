package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/i18n"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	_ "github.com/gatehouse-id/gatehouse/ent/runtime"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/internal/htmlform"
	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// cheap hashes keep tests fast: users are hashed with them and every env
// passes them as Config.PasswordParams, so neither verification, rehash nor
// the dummy check for unknown users costs production argon2. The one test
// at password.Default is TestFailedLoginsTakeAlike.
var cheap = password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// fakeFlow is a provider with requests in memory. CompleteLogin checks
// membership against the database like the real one, and answers
// ErrUnknownRequest once a request is completed.
type fakeFlow struct {
	client *ent.Client
	now    func() time.Time
	mu     sync.Mutex
	reqs   map[string]*LoginRequest
	added  map[string]time.Time // request id → when it was made (prompt=login)
	done   map[string]Authentication
	failed map[string]string // request id → OAuth error code given to FailLogin
	base   string            // redirect URLs start with this
	// failNext, when set, is what the next CompleteLogin returns.
	failNext error
}

func (f *fakeFlow) add(r LoginRequest) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.ID == "" {
		r.ID = string(pulid.New("areq"))
	}
	if r.ClientID == "" {
		r.ClientID = "app_client"
	}
	if r.ClientName == "" {
		r.ClientName = "Acme CRM"
	}
	if r.Scopes == nil {
		r.Scopes = []string{"openid", "email"}
	}
	if r.ExpiresAt.IsZero() {
		r.ExpiresAt = f.now().Add(10 * time.Minute)
	}
	f.reqs[r.ID] = &r
	if f.added == nil {
		f.added = map[string]time.Time{}
	}
	f.added[r.ID] = f.now()
	return r.ID
}

func (f *fakeFlow) LoginRequest(_ context.Context, id string) (*LoginRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.reqs[id]
	if !ok || !f.now().Before(r.ExpiresAt) {
		return nil, ErrUnknownRequest
	}
	if _, done := f.done[id]; done {
		return nil, ErrUnknownRequest
	}
	if _, failed := f.failed[id]; failed {
		return nil, ErrUnknownRequest
	}
	c := *r
	return &c, nil
}

func (f *fakeFlow) CompleteLogin(ctx context.Context, id string, a Authentication) (string, error) {
	f.mu.Lock()
	err := f.failNext
	f.failNext = nil
	f.mu.Unlock()
	if err != nil {
		return "", err
	}
	// The provider's rules, as TestFlowContract holds them.
	req, err := f.LoginRequest(ctx, id)
	if err != nil {
		return "", err
	}
	if a.AuthTime.IsZero() {
		a.AuthTime = f.now()
	}
	if a.ACR != "" && a.ACR != federation.ACRSingleFactor && a.ACR != federation.ACRMultiFactor {
		return "", ErrUnknownACR
	}
	active, err := f.client.User.Query().Where(user.ID(a.UserID), tenants.ActiveUser()).Exist(sys(ctx))
	if err != nil {
		return "", err
	}
	if !active {
		return "", ErrUserInactive
	}
	const skew = 30 * time.Second
	if req.MaxAge != nil && f.now().Sub(a.AuthTime) > *req.MaxAge+skew {
		return "", ErrReauthenticate
	}
	f.mu.Lock()
	added := f.added[id]
	f.mu.Unlock()
	if slices.Contains(req.Prompt, "login") && a.AuthTime.Before(added.Add(-skew)) {
		return "", ErrReauthenticate
	}
	switch {
	case req.RequestedOrganizationID != "" && a.OrganizationID == "":
		a.OrganizationID = pulid.ID(req.RequestedOrganizationID)
	case req.RequestedOrganizationID != "" && string(a.OrganizationID) != req.RequestedOrganizationID:
		return "", ErrNotMember
	case req.WantsOrganization && a.OrganizationID == "":
		return "", ErrNotMember
	}
	if a.OrganizationID != "" {
		member, err := f.client.Membership.Query().Where(tenants.ActiveMemberOf(a.UserID, a.OrganizationID)).Exist(sys(ctx))
		if err != nil {
			return "", err
		}
		if !member {
			return "", ErrNotMember
		}
	}
	policies, err := tenants.NewService(f.client).LoginPolicies(ctx, a.UserID, a.OrganizationID)
	if err != nil {
		return "", err
	}
	if len(policies) > 0 {
		d := tenants.LoginPolicy{}.Decide(tenants.LoginInput{User: &ent.User{Status: tenants.UserActiveStatus}, Policies: policies,
			Factors: tenants.FactorsOf(a.AMR, a.AuthTime), Now: f.now()})
		if d.Outcome != tenants.Done {
			return "", ErrPolicyRefused
		}
	}
	// The provider writes user.login with the completion, from the page's
	// origin (tenants.WithOrigin).
	err = tenants.WriteAudit(sys(ctx), f.client.AuditEvent, f.now(), tenants.Event{
		Action: "user.login", Organization: a.OrganizationID,
		Actor: string(a.UserID), ActorType: "user", TargetType: ent.TypeUser, TargetID: string(a.UserID),
		Metadata: map[string]any{"client_id": req.ClientID, "amr": a.AMR, "session_id": string(a.SessionID),
			"auth_time": a.AuthTime.UTC().Format(time.RFC3339)},
	})
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done[id] = a
	return f.base + "/cb?code=code-for-" + url.QueryEscape(id), nil
}

// FailLogin ends the request like the provider does: it must be pending,
// and the answer is a redirect to the application with the error.
func (f *fakeFlow) FailLogin(ctx context.Context, id, code, description string) (string, error) {
	if !slices.Contains([]string{"login_required", "access_denied", "consent_required", "interaction_required", "account_selection_required"}, code) {
		return "", errors.New("fake flow: unsupported error code " + code)
	}
	if _, err := f.LoginRequest(ctx, id); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, failed := f.failed[id]; failed {
		return "", ErrUnknownRequest
	}
	f.failed[id] = code
	return f.base + "/cb?" + url.Values{"error": {code}, "error_description": {description}, "state": {id}}.Encode(), nil
}

// failure returns the error code FailLogin got for id, or "".
func (f *fakeFlow) failure(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed[id]
}

func (f *fakeFlow) completed(id string) (Authentication, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.done[id]
	return a, ok
}

// env is one Web over one database, served by httptest.
type env struct {
	t      *testing.T
	client *ent.Client
	clock  *testkit.Clock
	flow   *fakeFlow
	web    *Web
	srv    *httptest.Server
	mail   *mailbox
}

func newEnv(t *testing.T, db testdb.Database, tweak ...func(*Config)) *env {
	t.Helper()
	return newEnvAt(t, db, testkit.NewClock(), tweak...)
}

// newEnvAt is newEnv on clock c: a test whose browser keeps real time
// passes testkit.NewRealClock().
func newEnvAt(t *testing.T, db testdb.Database, c *testkit.Clock, tweak ...func(*Config)) *env {
	t.Helper()
	client := db.Client()
	flow := &fakeFlow{client: client, now: c.Now, reqs: map[string]*LoginRequest{}, done: map[string]Authentication{},
		failed: map[string]string{}, base: "https://app.example"}
	mail := &mailbox{}
	cfg := Config{
		Flow: flow, Client: client, Issuer: "http://127.0.0.1", Now: c.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PasswordParams: cheap, Mailer: mail,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	if cfg.Tenants == nil {
		// As New would make it, with a sealer for TOTP secrets as
		// cmd/gatehouse gives one.
		cfg.Tenants = tenants.NewService(cfg.Client, tenants.WithClock(cfg.Now), tenants.WithPasswordParams(cfg.PasswordParams),
			tenants.WithLogger(cfg.Logger), tenants.WithSealer(testSealer(t)), tenants.WithDialect(db.Dialect))
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpserver.RequestID(w.Handler())) // as cmd/gatehouse serves it
	t.Cleanup(srv.Close)
	return &env{t: t, client: client, clock: c, flow: flow, web: w, srv: srv, mail: mail}
}

// testSealer seals TOTP secrets in tests.
func testSealer(t *testing.T) *seal.Sealer {
	t.Helper()
	sl, err := seal.New(make([]byte, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return sl
}

func forEachDB(t *testing.T, f func(t *testing.T, db testdb.Database)) {
	t.Helper()
	testdb.Each(t, f)
}

type userSpec struct {
	email, name, password string
	disabled              bool
}

func (e *env) user(s userSpec) *ent.User {
	e.t.Helper()
	c := e.client.User.Create().SetEmail(s.email).SetName(s.name).SetEmailVerified(true)
	if s.password != "" {
		h, err := password.Hash(s.password, cheap)
		if err != nil {
			e.t.Fatal(err)
		}
		c.SetPasswordHash(h)
	}
	if s.disabled {
		c.SetStatus(user.StatusDISABLED)
	}
	u, err := c.Save(sys(e.t.Context()))
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) org(name, slug string) *ent.Organization {
	e.t.Helper()
	o, err := e.client.Organization.Create().SetName(name).SetSlug(slug).Save(sys(e.t.Context()))
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func (e *env) member(u *ent.User, o *ent.Organization, status membership.Status) {
	e.t.Helper()
	if err := e.client.Membership.Create().SetUserID(u.ID).SetOrganizationID(o.ID).SetStatus(status).Exec(sys(e.t.Context())); err != nil {
		e.t.Fatal(err)
	}
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see every 303.
type browser struct {
	t    *testing.T
	e    *env
	http *http.Client
	// header is added to every request.
	header http.Header
}

func (e *env) browser() *browser {
	return &browser{t: e.t, e: e, http: &http.Client{
		Jar:           testkit.NewJar(e.clock.Now),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	status int
	header http.Header
	body   string
}

// forms returns the page's forms.
func (r response) forms() []htmlform.Form { return htmlform.Parse(r.body) }

// field returns the value of the first input called name on the page's
// forms (hidden ones included), or "".
func (r response) field(name string) string {
	for _, f := range r.forms() {
		if v, ok := f.Value(name); ok {
			return v
		}
	}
	return ""
}

// hasField tells whether one of the page's forms has an input called name;
// hasField("password") is "the sign-in form is shown".
func (r response) hasField(name string) bool {
	for _, f := range r.forms() {
		if f.Has(name) {
			return true
		}
	}
	return false
}

// recorded is the response rec holds, for the page checks above.
func recorded(rec *httptest.ResponseRecorder) response {
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	for k, v := range b.header {
		req.Header[k] = v
	}
	res, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(body)}
}

func (b *browser) get(path string) response {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodGet, b.e.srv.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) response {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// login loads the form for id and submits it.
func (b *browser) login(id, email, pw string) response {
	b.t.Helper()
	form := b.get("/login?authRequest=" + url.QueryEscape(id))
	if form.status != http.StatusOK {
		b.t.Fatalf("GET /login: %d\n%s", form.status, form.body)
	}
	return b.post("/login", url.Values{"authRequest": {id}, "csrf": {form.field("csrf")}, "email": {email}, "password": {pw}})
}

// cookie returns the value of the browser's cookie name, or "".
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// wantFailure checks that r sends the browser back to the application with
// the OAuth error code, and that the request ended with it.
func wantFailure(t *testing.T, e *env, r response, id, code string) {
	t.Helper()
	wantStatus(t, r, http.StatusSeeOther)
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), "https://app.example/cb?") || loc.Query().Get("error") != code {
		t.Fatalf("Location %q, want the application's redirect URI with error=%s", r.header.Get("Location"), code)
	}
	if got := e.flow.failure(id); got != code {
		t.Fatalf("FailLogin got %q, want %q", got, code)
	}
	if _, ok := e.flow.completed(id); ok {
		t.Fatal("the failed request was completed")
	}
}

// audits returns the audit events with action, oldest first.
func (e *env) audits(action string) []*ent.AuditEvent {
	e.t.Helper()
	evs, err := e.client.AuditEvent.Query().Where(auditevent.Action(action)).
		Order(ent.Asc(auditevent.FieldCreatedAt), ent.Asc(auditevent.FieldID)).All(sys(e.t.Context()))
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d\n%s", r.status, status, r.body)
	}
}

func wantRedirect(t *testing.T, r response, id string) {
	t.Helper()
	wantStatus(t, r, http.StatusSeeOther)
	if want := "https://app.example/cb?code=code-for-" + url.QueryEscape(id); r.header.Get("Location") != want {
		t.Fatalf("Location %q, want %q", r.header.Get("Location"), want)
	}
}

// httptestDo sends one request straight to h, with cookies, and returns the
// recorded response.
func httptestDo(t *testing.T, h http.Handler, method, path string, form url.Values, cookies []*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequestWithContext(t.Context(), method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func findCookie(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// mailbox is a Mailer that keeps what it was asked to send.
type mailbox struct {
	mu   sync.Mutex
	sent []sentMail
}

type sentMail struct {
	kind, to, lang string
	data           map[string]any
}

func (m *mailbox) Mail(_ context.Context, lang, kind, to string, data map[string]any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, sentMail{kind: kind, to: to, lang: lang, data: data})
}

// to returns the mails sent to address, oldest first.
func (m *mailbox) to(address string) []sentMail {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []sentMail
	for _, s := range m.sent {
		if s.to == address {
			out = append(out, s)
		}
	}
	return out
}

// english is the catalogs' English, for tests that look for a page's
// sentence.
var english = func() *i18n.Locale {
	c, err := i18n.Load()
	if err != nil {
		panic(err)
	}
	return c.Locale("en")
}()

// en is key's English sentence (a text's key, without placeholders).
func en(key string) string { return english.T(key) }
