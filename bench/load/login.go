package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// loginMode times Gatehouse's authorization-code + PKCE round trip the way
// a browser and a relying party make it: GET /oauth/v2/authorize → the
// hosted login form → POST email and password → redirects → the code at
// the redirect_uri → POST /oauth/v2/token. "cold" starts each round trip
// with an empty cookie jar (so the password is checked: argon2id), "warm"
// reuses the session cookie of an earlier sign-in (no password check).
// With -tokens-out it also writes -pool refresh tokens, one sign-in each.
type loginConfig struct {
	issuer, client, secret, redirect, email, password, scope string
	n                                                        int
	tokensOut                                                string
	pool                                                     int
	name                                                     string
}

func loginMode(c loginConfig) error {
	if c.n <= 0 {
		c.n = 50
	}
	u, err := url.Parse(c.issuer)
	if err != nil || !loopback(u.Hostname()) {
		return fmt.Errorf("-issuer %q: a loopback URL is required", c.issuer)
	}
	if c.tokensOut != "" {
		var lines []string
		b := newBrowser(c)
		for range c.pool {
			// One cold sign-in, then the session signs in the rest: each
			// token is its own grant (refresh family).
			rt, _, err := b.roundTrip()
			if err != nil {
				return err
			}
			lines = append(lines, rt)
		}
		return os.WriteFile(c.tokensOut, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	}
	for _, kind := range []string{"cold", "warm"} {
		var r result
		warm := newBrowser(c)
		if kind == "warm" {
			if _, _, err := warm.roundTrip(); err != nil { // the sign-in that makes the session
				return err
			}
		}
		start := time.Now()
		for range c.n {
			b := warm
			if kind == "cold" {
				b = newBrowser(c)
			}
			_, d, err := b.roundTrip()
			if err != nil {
				return fmt.Errorf("%s: %w", kind, err)
			}
			if kind == "warm" && b.sawLogin {
				return errors.New("warm: the session did not skip the login form")
			}
			if kind == "cold" && !b.sawLogin {
				return errors.New("cold: no login form on the way")
			}
			r.lat = append(r.lat, d)
		}
		r.elapsed = time.Since(start)
		r.requests = len(r.lat)
		r.print(c.name + "/" + kind)
	}
	return nil
}

type browser struct {
	c        loginConfig
	http     *http.Client
	origin   string
	sawLogin bool
}

func newBrowser(c loginConfig) *browser {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(c.issuer)
	return &browser{c: c, origin: u.Scheme + "://" + u.Host, http: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var (
	formRe   = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRe  = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	buttonRe = regexp.MustCompile(`(?is)<button\b([^>]*)>`)
	attrRe   = regexp.MustCompile(`(?is)([a-z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(s, -1) {
		m[strings.ToLower(a[1])] = html.UnescapeString(a[2] + a[3] + a[4])
	}
	return m
}

// roundTrip signs in and redeems the code: it returns the refresh token
// and the time from the authorize request to the token response.
func (b *browser) roundTrip() (string, time.Duration, error) {
	b.sawLogin = false
	vb := make([]byte, 32)
	_, _ = rand.Read(vb)
	verifier := base64.RawURLEncoding.EncodeToString(vb)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {b.c.client}, "redirect_uri": {b.c.redirect}, "response_type": {"code"},
		"scope": {b.c.scope}, "state": {verifier[:16]}, "nonce": {verifier[16:32]},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	t0 := time.Now()
	method, target := http.MethodGet, b.c.issuer+"/oauth/v2/authorize?"+q.Encode()
	var form url.Values
	var code string
	for hop := 0; code == ""; hop++ {
		if hop == 20 {
			return "", 0, errors.New("more than 20 hops")
		}
		var req *http.Request
		if method == http.MethodPost {
			req, _ = http.NewRequest(method, target, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req, _ = http.NewRequest(method, target, nil)
		}
		req.Header.Set("Accept", "text/html")
		resp, err := b.http.Do(req)
		if err != nil {
			return "", 0, err
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Location()
			if err != nil {
				return "", 0, err
			}
			if loc.Scheme+"://"+loc.Host != b.origin {
				if code = loc.Query().Get("code"); code == "" {
					return "", 0, fmt.Errorf("redirected to %s without a code", loc)
				}
				break
			}
			method, target, form = http.MethodGet, loc.String(), nil
			continue
		}
		m := formRe.FindStringSubmatch(string(body))
		if resp.StatusCode != http.StatusOK || m == nil {
			return "", 0, fmt.Errorf("%s %s: %d %.300s", method, target, resp.StatusCode, body)
		}
		action := attrs(m[1])["action"]
		form = url.Values{}
		var fields []string
		for _, in := range inputRe.FindAllStringSubmatch(m[2], -1) {
			if a := attrs(in[1]); a["name"] != "" {
				fields = append(fields, a["name"])
				form.Set(a["name"], a["value"])
			}
		}
		buttons := map[string][]string{}
		for _, bt := range buttonRe.FindAllStringSubmatch(m[2], -1) {
			if a := attrs(bt[1]); a["name"] != "" {
				buttons[a["name"]] = append(buttons[a["name"]], a["value"])
			}
		}
		switch {
		case contains(fields, "password"):
			b.sawLogin = true
			form.Set("email", b.c.email)
			form.Set("password", b.c.password)
		case len(buttons["organization"]) > 0:
			form.Set("organization", buttons["organization"][0])
		case contains(buttons["action"], "allow"):
			form.Set("action", "allow")
		default:
			return "", 0, fmt.Errorf("unexpected form at %s", target)
		}
		base, _ := url.Parse(target)
		next, err := base.Parse(action)
		if err != nil || action == "" {
			next = base
		}
		method, target = http.MethodPost, next.String()
	}
	tf := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {b.c.redirect}, "code_verifier": {verifier}}
	req, _ := http.NewRequest(http.MethodPost, b.c.issuer+"/oauth/v2/token", strings.NewReader(tf.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(b.c.client), url.QueryEscape(b.c.secret))
	resp, err := b.http.Do(req)
	if err != nil {
		return "", 0, err
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	d := time.Since(t0)
	var tok struct {
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok.IDToken == "" {
		return "", 0, fmt.Errorf("token: %d %.300s", resp.StatusCode, body)
	}
	if strings.Contains(b.c.scope, "offline_access") && tok.RefreshToken == "" {
		return "", 0, fmt.Errorf("token: no refresh_token in %.300s", body)
	}
	return tok.RefreshToken, d, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
