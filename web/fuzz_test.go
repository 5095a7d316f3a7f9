package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// formRoutes are the hosted pages' form posts the fuzzer sends to.
var formRoutes = []string{
	"/login", "/login/identify", "/login/email", "/login/email/verify", "/login/email/link",
	"/signup", "/signup/verify", "/signup/link", "/login/recover", "/login/recover/link",
	"/login/organization", "/login/continue", "/consent", "/login/logged-out", accountPath + "/sessions/revoke",
	"/login/mfa", "/login/mfa/enroll", "/login/mfa/continue",
}

// FuzzFormHandlers posts arbitrary bodies, with and without the browser's
// real CSRF field, to every form handler: none may answer 5xx or panic,
// and none may set a session cookie.
func FuzzFormHandlers(f *testing.F) {
	db := testdb.All(f)[0] // SQLite: the handlers, not the database, are under test
	client := db.Client()
	clock := testkit.NewClock()
	flow := &fakeFlow{client: client, now: clock.Now, reqs: map[string]*LoginRequest{}, done: map[string]Authentication{},
		failed: map[string]string{}, base: "https://app.example"}
	w, err := New(Config{Flow: flow, Client: client, Issuer: "http://127.0.0.1", Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PasswordParams: cheap, Mailer: &mailbox{}})
	if err != nil {
		f.Fatal(err)
	}
	h := w.Handler()
	hash, err := password.Hash(pw, cheap)
	if err != nil {
		f.Fatal(err)
	}
	client.User.Create().SetEmail("ada@example.com").SetPasswordHash(hash).ExecX(viewer.SystemContext(f.Context()))
	id := flow.add(LoginRequest{FirstParty: true})
	const token = "0123456789abcdefghijklmnopqrstuvwxyz0123"

	for i := range formRoutes {
		f.Add(uint8(i), "email=ada%40example.com&password=x", true)
		f.Add(uint8(i), "authRequest="+id+"&email=ada%40example.com&code=123456&challenge=ech_01J000&token=abc", true)
		f.Add(uint8(i), "authRequest=%ff%fe&email=%00&csrf=&session=all", false)
		f.Add(uint8(i), strings.Repeat("a=b&", 2000), true)
	}
	f.Fuzz(func(t *testing.T, route uint8, body string, withCSRF bool) {
		path := formRoutes[int(route)%len(formRoutes)]
		form, err := url.ParseQuery(body)
		if err == nil && withCSRF {
			subject := form.Get("authRequest")
			if strings.HasSuffix(path, "/link") {
				subject = linkCSRFSubject
			}
			form.Set("csrf", csrfField(token, subject))
			body = form.Encode()
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "gatehouse_csrf", Value: token})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q: %d\n%s", path, body, rec.Code, rec.Body)
		}
		for _, c := range rec.Result().Cookies() {
			if c.Name == "gatehouse_session" && c.Value != "" && rec.Code != http.StatusSeeOther {
				t.Fatalf("POST %s %q set a session on a %d", path, body, rec.Code)
			}
		}
	})
}
