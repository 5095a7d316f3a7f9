package main

// The wiring: the only file of this command that knows the storage, domain
// and GraphQL packages.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gatehouse-id/gatehouse/ent"
	_ "github.com/gatehouse-id/gatehouse/ent/runtime" // ent hooks and privacy policies
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/federation/connectors"
	"github.com/gatehouse-id/gatehouse/graph"
	"github.com/gatehouse-id/gatehouse/internal/config"
	"github.com/gatehouse-id/gatehouse/internal/database"
	"github.com/gatehouse-id/gatehouse/internal/dnsresolver"
	"github.com/gatehouse-id/gatehouse/internal/i18n"
	"github.com/gatehouse-id/gatehouse/internal/mail"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// backend is the migrated database and the domain service on top of it.
type backend struct {
	db      *database.DB
	client  *ent.Client
	tenants *tenants.Service
	// options are the service's settings from the configuration (argon2id
	// costs, dev mode, domain checks, metadata refresh); sealWith makes
	// the service again with them and the sealer.
	options []tenants.Option
	// params are the argon2id costs (GATEHOUSE_PASSWORD_*).
	params password.Params
	// issuer is the instance's public URL, under which connections'
	// endpoints hang.
	issuer string
	// upstream makes every call to an organization's identity provider
	// (upstreamClient).
	upstream *http.Client
	// sso builds the connectors of organizations' identity providers
	// (sealWith makes it, over the service that can open their keys; the
	// pages and GraphQL's SP metadata use it).
	sso *connectors.Registry
	// deviceKeys sign the hosted pages' device cookies, one derived from
	// each master key by openProvider (deviceKeys); the first signs.
	deviceKeys [][]byte
}

// messaging is how this node speaks to end users: the message catalogs,
// the mail templates rendered from them and the outbox that sends in the
// background: the hosted pages' Mailer (Mail), for their verification
// codes, links and notices.
type messaging struct {
	catalog   *i18n.Catalog
	templates *mail.Templates
	outbox    *mail.Outbox
	// mailbox keeps the last messages for /dev/mail when mail goes
	// nowhere else (dev mode, or a loopback issuer and listen address);
	// nil otherwise.
	mailbox *mail.Mailbox
	log     *slog.Logger
}

// openBackend opens the configured database and migrates it; each applied
// migration is logged.
func openBackend(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*backend, error) {
	db, err := database.Open(ctx, database.Config{URL: cfg.DatabaseURL, MaxConns: cfg.DatabaseMaxConns, DataDir: cfg.DataDir, Logger: logger})
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(db.Dialect, db.SQL)))
	params := password.Params{Memory: uint32(cfg.PasswordMemoryKiB), Iterations: uint32(cfg.PasswordIterations),
		Parallelism: uint8(cfg.PasswordParallelism), SaltLen: password.Default.SaltLen, KeyLen: password.Default.KeyLen}
	if err := params.Validate(); err != nil {
		_ = db.Close()
		return nil, err
	}
	resolver, err := dnsresolver.New(cfg.DNSResolver)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	options := []tenants.Option{tenants.WithPasswordParams(params), tenants.WithDev(cfg.Dev), tenants.WithDialect(db.Dialect),
		tenants.WithDomainChecks(tenants.DomainChecks{Resolver: resolver, RecheckAfter: cfg.DomainRecheckInterval, Grace: cfg.DomainGracePeriod}),
		tenants.WithMetadataRefresh(cfg.SAMLMetadataRefresh)}
	return &backend{db: db, client: client, options: options, params: params, issuer: cfg.Issuer, upstream: upstreamClient(cfg),
		tenants: tenants.NewService(client, options...)}, nil
}

// runDomainChecks re-checks verified domains' TXT records in the
// background until ctx ends (tenants.RunDomainChecks): every hour, or
// every re-check interval when that is shorter, so a domain is looked at
// within an hour of falling due.
func (b *backend) runDomainChecks(ctx context.Context, cfg *config.Config) {
	b.tenants.RunDomainChecks(ctx, min(cfg.DomainRecheckInterval, time.Hour))
}

// runMetadataRefresh fetches SAML connections' metadata URLs again in
// the background until ctx ends (tenants.RunMetadataRefresh), with the
// client of every call to a tenant's IdP (upstreamClient: internal
// addresses refused, loopback only in development): every hour, or every
// refresh interval when that is shorter.
func (b *backend) runMetadataRefresh(ctx context.Context, cfg *config.Config) {
	b.tenants.RunMetadataRefresh(ctx, min(cfg.SAMLMetadataRefresh, time.Hour), connectors.FetchSAMLMetadata(b.upstream))
}

// sealWith gives the domain service the sealer of the master keys, for
// the secrets it keeps (TOTP seeds, connections' keys and client secrets,
// tenants.WithSealer), and makes the connectors' registry over it:
// openProvider calls it with the sealer of the signing keys, before
// anything uses the service.
func (b *backend) sealWith(sealer *seal.Sealer) {
	b.tenants = tenants.NewService(b.client, append(slices.Clone(b.options), tenants.WithSealer(sealer))...)
	b.sso = connectors.New(connectors.Config{Tenants: b.tenants, Issuer: b.issuer, HTTPClient: b.upstream})
}

// Close closes the database (the ent client shares its pool).
func (b *backend) Close() error { return b.db.Close() }

func (b *backend) describe() string { return b.db.Describe() }

func (b *backend) ready(ctx context.Context) error { return b.db.Ready(ctx) }

func (b *backend) registerMetrics(reg *prometheus.Registry) {
	reg.MustRegister(collectors.NewDBStatsCollector(b.db.SQL, "gatehouse"))
}

// graphQL serves /graphql: POST authenticated by API key or provider access
// token with a 1 MiB body limit, and GET for the playground in dev mode
// (graph.NewHandler does both).
func (b *backend) graphQL(cfg *config.Config, logger *slog.Logger, verify func(context.Context, string) (tenants.TokenClaims, error)) http.Handler {
	return graph.NewHandler(graph.Config{Service: b.tenants, Logger: logger, Dev: cfg.Dev, VerifyToken: verify, Issuer: cfg.Issuer,
		ParseSAMLMetadata: connectors.ParseSAMLMetadata(b.upstream), SAMLSPMetadata: b.sso.Metadata})
}

// inputError is a problem with what the operator typed.
type inputError = tenants.InputError

type createdKey struct{ id, secret string }

// createAPIKey creates a key as the system itself: the CLI is how the first
// key of an instance comes to exist.
func (b *backend) createAPIKey(ctx context.Context, name string, scopes []string) (createdKey, error) {
	k, secret, err := b.tenants.CreateAPIKey(viewer.SystemContext(ctx), tenants.CreateAPIKeyInput{Name: name, Scopes: scopes})
	if err != nil {
		return createdKey{}, err
	}
	return createdKey{id: fmt.Sprint(k.ID), secret: secret}, nil
}

// importResult is what one batch of `users import` did; refused rows
// are numbered within the batch.
type importResult struct {
	imported int
	refused  []refusedRow
}

type refusedRow struct {
	index          int
	email, message string
}

// importUsers imports one batch of an import file as the system itself
// (tenants.ImportUsers, as the importUsers mutation does for an instance key).
func (b *backend) importUsers(ctx context.Context, lines []importLine) (importResult, error) {
	rows := make([]tenants.ImportUser, len(lines))
	for i, l := range lines {
		rows[i] = tenants.ImportUser{Email: l.Email, EmailVerified: l.EmailVerified, Name: l.Name, GivenName: l.GivenName,
			FamilyName: l.FamilyName, PasswordHash: l.PasswordHash, RoleKey: l.RoleKey}
		if l.OrganizationID != "" {
			org := pulid.ID(l.OrganizationID)
			rows[i].OrganizationID = &org
		}
	}
	res, err := b.tenants.ImportUsers(viewer.SystemContext(ctx), rows)
	if err != nil {
		return importResult{}, err
	}
	out := importResult{imported: res.Imported}
	for _, e := range res.Errors {
		out.refused = append(out.refused, refusedRow{index: e.Index, email: e.Email, message: e.Err.Error()})
	}
	return out, nil
}

// hintFirstKey tells a new operator how to get in: a fresh instance has no
// API key, and /graphql accepts nothing until one exists.
func (b *backend) hintFirstKey(ctx context.Context, logger *slog.Logger) {
	n, err := b.client.APIKey.Query().Count(viewer.SystemContext(ctx))
	if err != nil {
		logger.WarnContext(ctx, "count API keys", "err", err)
		return
	}
	if n == 0 {
		logger.InfoContext(ctx, "no API key yet: create one with `gatehouse apikey create --name admin` "+
			"(go run ./cmd/gatehouse apikey create --name admin) and send it as Authorization: Bearer <key> to /graphql")
	}
}
