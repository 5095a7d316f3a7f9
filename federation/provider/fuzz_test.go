package provider

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// fuzzEnv is one SQLite-backed provider shared by a fuzz target's inputs.
func fuzzEnv(f *testing.F) *env {
	dbs := testdb.All(f)
	return newEnv(f, dbs[0])
}

// FuzzAuthorize drives the authorization endpoint with arbitrary query
// strings: every answer is a redirect or an RFC 6749 error, never a 5xx.
func FuzzAuthorize(f *testing.F) {
	e := fuzzEnv(f)
	_, challenge := pkce()
	for _, s := range []string{
		codeParams("web", webRedirect, challenge).Encode(),
		codeParams("spa", "https://spa.tenant-a.test/cb", challenge).Encode() + "&code_challenge_method=plain",
		"client_id=web&redirect_uri=" + webRedirect + "&response_type=code&scope=openid&max_age=-1",
		"client_id=web&redirect_uri=" + webRedirect + "&response_type=code&scope=openid&prompt=none%20login&ui_locales=%%%",
		"client_id=%00&redirect_uri=%zz", "", "response_mode=form_post&client_id=web&redirect_uri=" + webRedirect,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, "/oauth/v2/authorize", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		e.p.Handler().ServeHTTP(rec, req)
		switch {
		case rec.Code >= 500:
			t.Fatalf("status %d for %q: %s", rec.Code, query, rec.Body)
		case rec.Code == http.StatusBadRequest:
			var body struct{ Error string }
			if json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error == "" {
				t.Fatalf("400 without RFC 6749 error body for %q: %s", query, rec.Body)
			}
		case rec.Code != http.StatusFound && rec.Code != http.StatusOK:
			t.Fatalf("status %d for %q", rec.Code, query)
		}
	})
}

// FuzzToken drives the token endpoint with arbitrary form bodies and
// Authorization headers: never a 5xx, errors are RFC 6749 JSON, 401 has a
// WWW-Authenticate challenge.
func FuzzToken(f *testing.F) {
	e := fuzzEnv(f)
	for _, s := range [][2]string{
		{"grant_type=client_credentials&scope=read", "Basic bWFjaGluZTp4"},
		{"grant_type=authorization_code&code=abc&redirect_uri=" + webRedirect + "&code_verifier=x", "Basic d2ViOnk="},
		{"grant_type=refresh_token&refresh_token=abc&client_id=spa", ""},
		{"grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=a.b.c", ""},
		{"grant_type=password&username=a&password=b", ""},
		{"%zz=1", "Basic %%%"},
		{"grant_type=urn:ietf:params:oauth:grant-type:token-exchange", ""},
		{"grant_type=urn:ietf:params:oauth:grant-type:device_code&device_code=x&client_id=web", ""},
		// Past client authentication, into the grants served ahead of the library.
		{"grant_type=refresh_token&refresh_token=abc&scope=openid+profile", basicAuth("web", webSecret)},
		{"grant_type=refresh_token&refresh_token=a&refresh_token=b", basicAuth("web", webSecret)},
		{"grant_type=client_credentials&scope=read&scope=write", basicAuth("machine", machineSecret)},
		{"grant_type=client_credentials&scope=read+admin", basicAuth("machine", machineSecret)},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, body, auth string) {
		req := httptest.NewRequest(http.MethodPost, "/oauth/v2/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		e.p.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q / %q: %s", rec.Code, body, auth, rec.Body)
		}
		if rec.Code >= 400 {
			var b struct{ Error string }
			if json.Unmarshal(rec.Body.Bytes(), &b) != nil || b.Error == "" {
				t.Fatalf("status %d without RFC 6749 error body for %q: %s", rec.Code, body, rec.Body)
			}
			if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatalf("401 without WWW-Authenticate for %q", body)
			}
		}
	})
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}
