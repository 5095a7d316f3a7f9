package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/interop/hosted"
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
		b, err := newBrowser(c)
		if err != nil {
			return err
		}
		for range c.pool {
			// One cold sign-in, then the session signs in the rest: each
			// token is its own grant (refresh family).
			rt, _, _, err := b.roundTrip()
			if err != nil {
				return err
			}
			lines = append(lines, rt)
		}
		return os.WriteFile(c.tokensOut, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	}
	for _, kind := range []string{"cold", "warm"} {
		var r result
		var session *browser // warm: the browser whose session signs in every round trip
		if kind == "warm" {
			if session, err = newBrowser(c); err != nil {
				return err
			}
			if _, _, _, err := session.roundTrip(); err != nil { // the sign-in that makes the session
				return err
			}
		}
		start := time.Now()
		for range c.n {
			b := session
			if b == nil {
				if b, err = newBrowser(c); err != nil {
					return err
				}
			}
			_, loginShown, d, err := b.roundTrip()
			if err != nil {
				return fmt.Errorf("%s: %w", kind, err)
			}
			if kind == "warm" && loginShown {
				return errors.New("warm: the session did not skip the login form")
			}
			if kind == "cold" && !loginShown {
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

// browser signs in through the hosted pages (hosted.Browser) and redeems
// the code as the relying party.
type browser struct {
	c      loginConfig
	hosted *hosted.Browser
}

func newBrowser(c loginConfig) (*browser, error) {
	h, err := hosted.New(c.issuer, c.email, c.password)
	if err != nil {
		return nil, err
	}
	h.HTTP.Timeout = 30 * time.Second
	return &browser{c: c, hosted: h}, nil
}

// roundTrip signs in and redeems the code: it returns the refresh token,
// whether the sign-in form was on the way, and the time from the authorize
// request to the token response.
func (b *browser) roundTrip() (string, bool, time.Duration, error) {
	verifier := oauth2.GenerateVerifier() // 32 random bytes, base64url (RFC 7636 §4.1)
	q := url.Values{
		"client_id": {b.c.client}, "redirect_uri": {b.c.redirect}, "response_type": {"code"},
		"scope": {b.c.scope}, "state": {verifier[:16]}, "nonce": {verifier[16:32]},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	t0 := time.Now()
	res, err := b.hosted.Drive(context.Background(), b.c.issuer+"/oauth/v2/authorize?"+q.Encode())
	if err != nil {
		return "", false, 0, err
	}
	if res.Redirect == nil {
		return "", false, 0, fmt.Errorf("no redirect back to the client: %s", res)
	}
	code := res.Redirect.Query().Get("code")
	if code == "" {
		return "", false, 0, fmt.Errorf("redirected to %s without a code", res.Redirect)
	}
	tf := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {b.c.redirect}, "code_verifier": {verifier}}
	req, _ := http.NewRequest(http.MethodPost, b.c.issuer+"/oauth/v2/token", strings.NewReader(tf.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(b.c.client), url.QueryEscape(b.c.secret))
	resp, err := b.hosted.HTTP.Do(req)
	if err != nil {
		return "", false, 0, err
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	d := time.Since(t0)
	var tok struct {
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok.IDToken == "" {
		return "", false, 0, fmt.Errorf("token: %d %.300s", resp.StatusCode, body)
	}
	if strings.Contains(b.c.scope, "offline_access") && tok.RefreshToken == "" {
		return "", false, 0, fmt.Errorf("token: no refresh_token in %.300s", body)
	}
	return tok.RefreshToken, res.LoginShown, d, nil
}
