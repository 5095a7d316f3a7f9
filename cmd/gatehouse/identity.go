package main

// The identity half of the wiring: the master key, the OpenID provider and
// the hosted pages on top of the backend.

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/federation/provider"
	"github.com/gatehouse-id/gatehouse/internal/config"
	"github.com/gatehouse-id/gatehouse/internal/safehttp"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/web"
)

// masterKeyFile is where the generated master key lives when neither
// GATEHOUSE_MASTER_KEY nor GATEHOUSE_MASTER_KEY_FILE is set.
const masterKeyFile = "master.key"

// masterKeys returns the configured master keys (the first seals), or the
// key file in the data directory (created on first use, mode 0600).
func masterKeys(ctx context.Context, cfg *config.Config, logger *slog.Logger) ([][]byte, error) {
	if cfg.MasterKeys != nil {
		return cfg.MasterKeys, nil
	}
	path := filepath.Join(cfg.DataDir, masterKeyFile)
	keys, err := seal.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if !cfg.Dev {
		logger.WarnContext(ctx, "GATEHOUSE_MASTER_KEY is not set: sealing secrets with a key file; "+
			"set one key for every node in production", "file", path)
	}
	return keys, nil
}

// openIdentity opens and migrates the database and starts the OpenID
// provider on it: what serve and the key commands run on. The caller
// closes the backend.
func openIdentity(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*backend, *provider.Provider, error) {
	b, err := openBackend(ctx, cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	p, err := b.openProvider(ctx, cfg, logger)
	if err != nil {
		_ = b.Close()
		return nil, nil, err
	}
	return b, p, nil
}

// openProvider starts the OpenID provider: its signing keys are sealed with
// the master key, and op's own encryption key is derived from it.
func (b *backend) openProvider(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*provider.Provider, error) {
	keys, err := masterKeys(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	sealer, err := seal.New(keys...)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	b.sealWith(sealer)
	// From the key that seals: a master-key rotation also ends the
	// library's short-lived encrypted state (and the MAC of a failure
	// redirect in flight), which nothing keeps for longer than a login.
	derived, err := hkdf.Key(sha256.New, keys[0], nil, "gatehouse/oidc-provider/crypto-key", 32)
	if err != nil {
		return nil, fmt.Errorf("derive provider key: %w", err)
	}
	if b.deviceKeys, err = deviceKeys(keys); err != nil {
		return nil, err
	}
	return provider.New(ctx, provider.Config{
		Issuer:    cfg.Issuer,
		Client:    b.client,
		Tenants:   b.tenants,
		Dialect:   b.db.Dialect,
		Sealer:    sealer,
		CryptoKey: [32]byte(derived),
		Logger:    logger,
		// config allows an http issuer only on loopback or in dev mode.
		AllowHTTPIssuer: cfg.Dev || strings.HasPrefix(cfg.Issuer, "http://"),
		AuditRefresh:    cfg.AuditTokenRefresh,
	})
}

// deviceKeys derives a device-cookie key from each master key, in their
// order: cookies are signed with the newest and accepted under any, so a
// master-key rotation does not forget which browsers have signed in to
// which account (their owners would share the account's allowance again)
// while the old key is still configured.
func deviceKeys(masterKeys [][]byte) ([][]byte, error) {
	out := make([][]byte, 0, len(masterKeys))
	for _, k := range masterKeys {
		d, err := hkdf.Key(sha256.New, k, nil, "gatehouse/web/device-cookie", 32)
		if err != nil {
			return nil, fmt.Errorf("derive device cookie key: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

// The provider is the flow the hosted pages complete; web knows it only
// through federation's types.
var _ web.Flow = (*provider.Provider)(nil)

// routeIdentity mounts the provider's endpoints and the hosted login.
func (b *backend) routeIdentity(mux *http.ServeMux, p *provider.Provider, cfg *config.Config, logger *slog.Logger, th *throttle, msg *messaging) error {
	pages, err := web.New(web.Config{Flow: p, SSO: b.sso, Client: b.client, Tenants: b.tenants, Issuer: cfg.Issuer, Logger: logger, PasswordParams: b.params,
		Limiter: th.limiter, DeviceKeys: b.deviceKeys, Mailer: msg})
	if err != nil {
		return fmt.Errorf("hosted pages: %w", err)
	}
	p.Register(mux)
	for _, path := range pages.Paths() {
		mux.Handle(path, pages.Handler())
	}
	return nil
}

// tokenVerifier lets /graphql accept the provider's access tokens.
func tokenVerifier(p *provider.Provider) func(context.Context, string) (tenants.TokenClaims, error) {
	return func(ctx context.Context, token string) (tenants.TokenClaims, error) {
		at, err := p.VerifyAccessToken(ctx, token)
		if err != nil {
			return tenants.TokenClaims{}, err
		}
		return tenants.TokenClaims{Subject: pulid.ID(at.Subject), ClientID: at.ClientID,
			Scopes: at.Scopes, OrganizationID: at.OrganizationID, GrantID: at.Grant}, nil
	}
}

// upstreamClient makes the calls to organizations' identity providers
// (OIDC discovery, JWKS, token, userinfo): their addresses are URLs a
// tenant typed, so internal addresses are refused (MT-10), except
// loopback in development, where a test IdP runs beside Gatehouse.
func upstreamClient(cfg *config.Config) *http.Client {
	c := safehttp.Config{Timeout: 10 * time.Second, MaxBytes: 1 << 20}
	if cfg.Dev {
		c.AllowedInternal = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	return safehttp.New(c).HTTPClient()
}
