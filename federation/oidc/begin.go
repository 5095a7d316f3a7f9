package oidc

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/federation"
	"github.com/gatehouse-id/gatehouse/internal/secret"
)

// stateVersion is the shape of transaction; Finish refuses others.
const stateVersion = 1

// transaction is everything Finish needs of one Begin: Step.State, kept by
// the pages server-side (never in the browser, since it holds the PKCE
// verifier) and given back once.
type transaction struct {
	Version      int      `json:"v"`
	ConnectionID pulid.ID `json:"conn"`
	// Issuer binds the transaction to the provider it was sent to
	// (SECURITY-CHECKLIST OIDC-07: "the stored expected issuer is bound to
	// the browser transaction").
	Issuer   string `json:"iss"`
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	// ForceAuthn asked for prompt=login, so auth_time must be fresh.
	ForceAuthn bool `json:"force_authn,omitempty"`
	// Started is when Begin ran (Unix seconds, Config.Now).
	Started int64 `json:"started"`
}

// Begin starts an authorization code flow (OIDC Core §3.1.2.1) with PKCE
// S256 (RFC 7636), a fresh state and nonce, login_hint when the person
// typed an address, and prompt=login when ForceAuthn. req.CallbackURL, when
// set, must be the connection's RedirectURL.
func (c *Connector) Begin(ctx context.Context, req federation.BeginRequest) (federation.Step, error) {
	if req.CallbackURL != "" && req.CallbackURL != c.cfg.RedirectURL {
		return federation.Step{}, fmt.Errorf("oidc: callback URL %q is not connection %s's redirect URL %q", req.CallbackURL, c.cfg.ConnectionID, c.cfg.RedirectURL)
	}
	tx := transaction{
		Version:      stateVersion,
		ConnectionID: c.cfg.ConnectionID,
		Issuer:       c.cfg.Issuer,
		State:        secret.Token(32),
		Nonce:        secret.Token(32),
		Verifier:     oauth2.GenerateVerifier(),
		ForceAuthn:   req.ForceAuthn,
		Started:      c.cfg.Now().Unix(),
	}
	opts := []rp.AuthURLOpt{
		rp.WithCodeChallenge(oauth2.S256ChallengeFromVerifier(tx.Verifier)),
		rp.AuthURLOpt(rp.WithURLParam("nonce", tx.Nonce)),
	}
	if req.LoginHint != "" {
		opts = append(opts, rp.AuthURLOpt(rp.WithURLParam("login_hint", req.LoginHint)))
	}
	if req.ForceAuthn {
		opts = append(opts, rp.WithPrompt("login"))
	}
	state, err := json.Marshal(tx)
	if err != nil {
		return federation.Step{}, fmt.Errorf("oidc: encoding the transaction: %w", err)
	}
	return federation.Step{RedirectURL: rp.AuthURL(tx.State, c.party, opts...), State: state}, nil
}
