package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-id/gatehouse/federation"
)

// Finish verifies the provider's answer at the callback (r's query: code,
// state, iss, or error and error_description) against the transaction
// Begin made (state), redeems the code with the PKCE verifier, verifies
// the ID token, reads userinfo when the provider has it, and returns the
// identity. Every refusal is a *Rejection; the pages must drop state
// before calling, so an answer is finished at most once.
func (c *Connector) Finish(ctx context.Context, r *http.Request, state []byte) (federation.Identity, error) {
	tx, err := c.transaction(state)
	if err != nil {
		return federation.Identity{}, err
	}
	if r == nil || r.URL == nil {
		return federation.Identity{}, reject(CodeMalformedResponse, "no callback request")
	}
	q, err := c.callback(r, tx)
	if err != nil {
		return federation.Identity{}, err
	}
	// One bound for the token, JWKS and userinfo calls together, so a
	// slow provider holds one sign-in, not a page's worth (REL-09).
	ctx, cancel := context.WithTimeout(ctx, finishTimeout)
	defer cancel()
	tokens, err := rp.CodeExchange[*zoidc.IDTokenClaims](ctx, q.code, c.party, rp.WithCodeVerifier(tx.Verifier))
	if err != nil {
		return federation.Identity{}, rejectErr(CodeExchangeFailed, err, "redeeming the code at %s", c.doc.TokenEndpoint)
	}
	raw, _ := tokens.Extra("id_token").(string)
	tok, err := c.verifyIDToken(ctx, raw, tokens.AccessToken, tx)
	if err != nil {
		return federation.Identity{}, err
	}
	if err := c.checkRequired(tok.raw); err != nil {
		return federation.Identity{}, err
	}
	var info map[string]any
	if c.doc.UserinfoEndpoint != "" && tokens.AccessToken != "" {
		if info, err = c.fetchUserinfo(ctx, tokens.Type(), tokens.AccessToken, tok.claims.Subject); err != nil {
			return federation.Identity{}, err
		}
	}
	return c.identity(tok, info), nil
}

// transaction decodes Finish's state and checks it is this connection's
// and still fresh.
func (c *Connector) transaction(state []byte) (transaction, error) {
	var tx transaction
	if err := json.Unmarshal(state, &tx); err != nil {
		return tx, rejectErr(CodeStateInvalid, err, "the stored transaction is unreadable")
	}
	switch {
	case tx.Version != stateVersion:
		return tx, reject(CodeStateInvalid, "the stored transaction has version %d; want %d", tx.Version, stateVersion)
	case tx.ConnectionID != c.cfg.ConnectionID:
		return tx, reject(CodeStateInvalid, "the stored transaction belongs to connection %q, not %s", tx.ConnectionID, c.cfg.ConnectionID)
	case tx.Issuer != c.cfg.Issuer:
		return tx, reject(CodeIssuerMismatch, "the stored transaction was sent to issuer %q, not %q", tx.Issuer, c.cfg.Issuer)
	case tx.State == "" || tx.Nonce == "" || tx.Verifier == "":
		return tx, reject(CodeStateInvalid, "the stored transaction lacks its state, nonce or verifier")
	}
	started := time.Unix(tx.Started, 0)
	if now := c.cfg.Now(); now.After(started.Add(MaxTransactionAge)) || now.Before(started.Add(-ClockSkew)) {
		return tx, reject(CodeStateExpired, "the sign-in began at %s; answers are accepted for %s (now %s)", started.UTC().Format(time.RFC3339), MaxTransactionAge, now.UTC().Format(time.RFC3339))
	}
	return tx, nil
}

// response is the authorization response's parameters.
type response struct{ code string }

// callback reads the authorization response (RFC 6749 §4.1.2, §4.1.2.1;
// RFC 9207 §2.4) and checks state and iss before anything else, so even
// an error response is only believed from this transaction's provider.
func (c *Connector) callback(r *http.Request, tx transaction) (response, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return response{}, rejectErr(CodeMalformedResponse, err, "the callback's query does not parse")
	}
	for _, name := range []string{"state", "code", "iss", "error", "error_description", "error_uri"} {
		if len(q[name]) > 1 {
			return response{}, reject(CodeMalformedResponse, "the callback carries %s %d times (RFC 6749 §3.1: at most once)", name, len(q[name]))
		}
	}
	switch got := q.Get("state"); {
	case got == "":
		return response{}, reject(CodeStateMismatch, "the callback carries no state")
	case subtle.ConstantTimeCompare([]byte(got), []byte(tx.State)) != 1:
		return response{}, reject(CodeStateMismatch, "the callback's state is not this sign-in's (another browser or transaction)")
	}
	if iss, sent := q["iss"]; sent {
		if iss[0] != c.cfg.Issuer {
			return response{}, reject(CodeIssuerMismatch, "the callback's iss is %s, not %q (RFC 9207 mix-up)", quote(iss[0]), c.cfg.Issuer)
		}
	} else if c.doc.IssParameterSupported {
		return response{}, reject(CodeIssuerMismatch, "the callback carries no iss, which %s advertises (RFC 9207 §2.4)", c.cfg.Issuer)
	}
	if e := q.Get("error"); e != "" {
		reason := "the provider answered " + quote(e)
		if d := q.Get("error_description"); d != "" {
			reason += ": " + quote(d)
		}
		return response{}, &Rejection{Code: CodeUpstreamError, Reason: reason}
	}
	code := q.Get("code")
	if code == "" {
		return response{}, reject(CodeMalformedResponse, "the callback carries neither code nor error")
	}
	return response{code: code}, nil
}

// quote bounds and quotes text the provider or the browser chose, for a
// log line.
func quote(s string) string {
	const max = 200
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// fetchUserinfo reads the userinfo endpoint (OIDC Core §5.3) with the
// access token and returns its claims, which must describe sub.
func (c *Connector) fetchUserinfo(ctx context.Context, tokenType, accessToken, sub string) (map[string]any, error) {
	info, err := rp.Userinfo[userinfoClaims](ctx, accessToken, tokenType, sub, userinfoParty{c.party, c.doc.UserinfoEndpoint})
	switch {
	case errors.Is(err, rp.ErrUserInfoSubNotMatching):
		return nil, &Rejection{Code: CodeUserinfoSubjectMismatch, Reason: "userinfo at " + c.doc.UserinfoEndpoint + " describes another subject than the ID token's " + quote(sub), Err: err}
	case err != nil:
		return nil, rejectErr(CodeUserinfoFailed, err, "reading %s", c.doc.UserinfoEndpoint)
	}
	return info, nil
}

// userinfoClaims keeps every claim userinfo returns.
type userinfoClaims map[string]any

func (u userinfoClaims) GetSubject() string {
	s, _ := u["sub"].(string)
	return s
}

// userinfoParty is the relying party with the discovered userinfo
// endpoint (an OAuth-only party has none of its own).
type userinfoParty struct {
	rp.RelyingParty
	endpoint string
}

func (p userinfoParty) UserinfoEndpoint() string { return p.endpoint }
