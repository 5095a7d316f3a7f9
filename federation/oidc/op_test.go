package oidc

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/gatehouse-id/gatehouse/internal/htmlform"
)

// The person every test OP knows.
const (
	aliceID       = "alice-0001"
	aliceLogin    = "alice"
	alicePassword = "correct horse"
	aliceEmail    = "alice@example.com"
)

var aliceGroups = []string{"engineering", "admins"}

// testOP is a real OpenID Provider (zitadel's op with its example storage)
// on a loopback httptest server, with a login form of its own and hooks
// that rewrite what it answers, for the tests that need a provider
// misbehaving in one precise way.
type testOP struct {
	Issuer   string
	ClientID string
	Secret   string
	Redirect string

	store    *storage.Storage
	provider *op.Provider

	mu        sync.Mutex
	idToken   func(token string) (string, error)
	userinfo  func(claims map[string]any)
	discovery func(doc map[string]any)
	jwks      func(set map[string]any)
}

// opUsers is the OP's user store: alice only.
type opUsers struct{}

func (opUsers) GetUserByID(id string) *storage.User {
	if id != aliceID {
		return nil
	}
	return &storage.User{
		ID: aliceID, Username: aliceLogin, Password: alicePassword,
		FirstName: "Alice", LastName: "Liddell", Email: aliceEmail, EmailVerified: true,
		PreferredLanguage: language.English,
	}
}

func (u opUsers) GetUserByUsername(name string) *storage.User {
	if name != aliceLogin {
		return nil
	}
	return u.GetUserByID(aliceID)
}

func (opUsers) ExampleClientID() string { return "service" }

// opStorage adds the groups claim (which the example storage lacks) to ID
// tokens and userinfo.
type opStorage struct{ *storage.Storage }

func (s opStorage) SetUserinfoFromRequest(ctx context.Context, info *zoidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	info.AppendClaims("groups", aliceGroups)
	return nil
}

// newTestOP starts an OP whose one client is (test-client, its secret,
// redirect). Its issuer is its loopback URL.
func newTestOP(t testing.TB, redirect string) *testOP {
	t.Helper()
	o := &testOP{ClientID: "test-client", Secret: "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz", Redirect: redirect}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	o.Issuer = srv.URL

	o.store = storage.NewStorageWithClients(opUsers{}, map[string]*storage.Client{
		o.ClientID: storage.WebClient(o.ClientID, o.Secret, redirect),
	})
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:      sha256.Sum256([]byte("test op " + srv.URL)),
		CodeMethodS256: true,
	}, opStorage{o.store}, op.StaticIssuer(o.Issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatal(err)
	}
	o.provider = provider

	mux := http.NewServeMux()
	mux.Handle("/login/username", op.NewIssuerInterceptor(provider.IssuerFromRequest).HandlerFunc(o.login))
	mux.Handle("/", o.rewrite(provider))
	handler = mux
	return o
}

// login is the OP's sign-in page: a form with the request id, a password
// and two buttons, one of which declines.
func (o *testOP) login(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<form method="post" action="/login/username">
<input type="hidden" name="id" value="%s"><input name="username"><input type="password" name="password">
<button name="action" value="login">Sign in</button><button name="action" value="deny">Cancel</button></form>`,
			url.QueryEscape(r.URL.Query().Get("authRequestID")))
		return
	}
	id := r.PostFormValue("id")
	if r.PostFormValue("action") == "deny" {
		req, err := o.store.AuthRequestByID(r.Context(), id)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		op.AuthRequestError(w, r, req, zoidc.ErrAccessDenied().WithDescription("the user declined"), o.provider)
		return
	}
	if err := o.store.CheckUsernamePassword(r.PostFormValue("username"), r.PostFormValue("password"), id); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	http.Redirect(w, r, op.AuthCallbackURL(o.provider)(r.Context(), id), http.StatusFound)
}

// rewrite lets the test change the discovery document, the token
// response's ID token and the userinfo answer.
func (o *testOP) rewrite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		idToken, userinfo, discovery, jwks := o.idToken, o.userinfo, o.discovery, o.jwks
		o.mu.Unlock()
		var fn func(map[string]any) error
		switch r.URL.Path {
		case zoidc.DiscoveryEndpoint:
			if discovery != nil {
				fn = func(doc map[string]any) error { discovery(doc); return nil }
			}
		case o.provider.TokenEndpoint().Relative():
			if idToken != nil {
				fn = func(resp map[string]any) error {
					tok, err := idToken(resp["id_token"].(string))
					resp["id_token"] = tok
					return err
				}
			}
		case o.provider.KeysEndpoint().Relative():
			if jwks != nil {
				fn = func(set map[string]any) error { jwks(set); return nil }
			}
		case o.provider.UserinfoEndpoint().Relative():
			if userinfo != nil {
				fn = func(claims map[string]any) error { userinfo(claims); return nil }
			}
		}
		if fn == nil {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			doc := map[string]any{}
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&doc); err != nil {
				http.Error(w, "test OP: "+err.Error(), http.StatusInternalServerError)
				return
			}
			if err := fn(doc); err != nil {
				http.Error(w, "test OP: "+err.Error(), http.StatusInternalServerError)
				return
			}
			body, _ = json.Marshal(doc)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

// rewriteClaims makes the OP change its ID tokens' claims with fn and sign
// them again, with signer (nil: the OP's own key and kid).
func (o *testOP) rewriteClaims(signer jose.Signer, fn func(claims map[string]any)) {
	o.set(func(o *testOP) {
		o.idToken = func(token string) (string, error) { return o.resign(token, signer, fn) }
	})
}

// reset puts the OP back to answering as it would.
func (o *testOP) reset() {
	o.set(func(o *testOP) { o.idToken, o.userinfo, o.discovery, o.jwks = nil, nil, nil, nil })
}

func (o *testOP) resign(token string, signer jose.Signer, fn func(map[string]any)) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("id_token has %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	claims := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return "", err
	}
	fn(claims)
	payload, err = json.Marshal(claims)
	if err != nil {
		return "", err
	}
	if signer == nil {
		if signer, err = o.ownSigner(); err != nil {
			return "", err
		}
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func (o *testOP) ownSigner() (jose.Signer, error) {
	key, err := o.store.SigningKey(context.Background())
	if err != nil {
		return nil, err
	}
	return jose.NewSigner(jose.SigningKey{Algorithm: key.SignatureAlgorithm(), Key: key.Key()},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", key.ID()))
}

// foreignSigner signs with a fresh RSA key under the OP's kid.
func (o *testOP) foreignSigner(t testing.TB) jose.Signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	own, _ := o.store.SigningKey(context.Background())
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", own.ID()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (o *testOP) set(fn func(o *testOP)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fn(o)
}

// browser signs alice in at whatever provider start leads to, the way a
// browser does: follow redirects, fill the one login form (fields named
// username or login, and password) and press its button named action
// with value button (or the only button), until a redirect reaches
// callback, whose URL it returns.
func browser(t testing.TB, start, callback, button string) *url.URL {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var landed *url.URL
	hc := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), callback) {
			landed = req.URL
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return fmt.Errorf("more than 10 redirects")
		}
		return nil
	}}
	resp, err := hc.Get(start)
	for range 5 {
		if err != nil {
			t.Fatalf("browser: %v", err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if landed != nil {
			return landed
		}
		forms := htmlform.Parse(string(page))
		if resp.StatusCode != http.StatusOK || len(forms) != 1 {
			t.Fatalf("browser: %s answered %d with %d forms:\n%s", resp.Request.URL, resp.StatusCode, len(forms), page)
		}
		f := forms[0]
		vals := f.Values()
		if len(f.Buttons) > 0 {
			b := f.Buttons[0]
			for _, cand := range f.Buttons {
				if cand.Value == button {
					b = cand
				}
			}
			vals, _ = f.Submit(b.Name, b.Value)
		}
		for _, name := range []string{"username", "login"} {
			if f.Has(name) {
				vals.Set(name, aliceLogin)
			}
		}
		if f.Has("password") {
			vals.Set("password", alicePassword)
		}
		action, aerr := f.ActionURL(resp.Request.URL)
		if aerr != nil {
			t.Fatal(aerr)
		}
		resp, err = hc.PostForm(action.String(), vals)
	}
	t.Fatalf("browser: no redirect to %s", callback)
	return nil
}

func copyBody(w io.Writer, resp *http.Response) (int64, error) { return io.Copy(w, resp.Body) }
