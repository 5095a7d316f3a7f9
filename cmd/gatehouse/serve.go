package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/httpserver"
)

// serveGCPercent is the garbage collector's target (GOGC) for serve when
// the environment sets none. A node's live heap is small and token
// traffic allocates fast, so Go's default of 100 collects hundreds of
// times a second under load: 400 raised client-credentials throughput by
// about a quarter for about 20 MB more resident memory
// (docs/BENCHMARKS.md). GOGC in the environment wins.
const serveGCPercent = 400

func serve(ctx context.Context, e *env, args []string) int {
	c := newCLI(e, "gatehouse serve",
		"Runs the HTTP server: GraphQL at /graphql, the OpenID provider (/.well-known/,\n"+
			"/oauth/v2/, /oidc/v1/), the hosted login (/login), /healthz, /readyz and /metrics.\n"+
			"Migrates the database first. Stops gracefully on SIGTERM or SIGINT.").withConfig()
	if code, done := c.parse(args); done {
		return code
	}
	cfg, ok := c.load()
	if !ok {
		return exitUsage
	}
	logger := newLogger(cfg, e.stderr)
	if e.getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}

	b, prov, err := openIdentity(ctx, cfg, logger)
	if err != nil {
		return e.fail(err)
	}
	defer b.Close()
	// Expired auth requests, grants and revoked-token rows are deleted hourly
	// (every node sweeps; the deletes are idempotent).
	go prov.RunSweeper(ctx, time.Hour)
	// Verified domains' TXT records are re-checked in the background (every
	// node; a pass that overlaps another's agrees with it).
	go b.runDomainChecks(ctx, cfg)
	// SAML connections made from a metadata URL follow their IdP's
	// certificate rollovers (every node; a pass that finds a connection
	// refreshed meanwhile leaves it).
	go b.runMetadataRefresh(ctx, cfg)
	// Funnel counts are kept in memory and added every second, and once
	// more after the last request.
	go b.tenants.RunFunnelFlusher(ctx, time.Second)
	metrics := httpserver.NewMetrics()
	b.registerMetrics(metrics.Registry())
	th, err := openThrottle(ctx, cfg, logger, metrics.Registry(), e.getenv)
	if err != nil {
		return e.fail(err)
	}
	defer th.close()
	msg, err := openMessaging(cfg, logger, metrics.Registry())
	if err != nil {
		return e.fail(err)
	}
	// Runs after the server has stopped: the last requests' mail is sent
	// within the shutdown timeout.
	defer msg.close(ctx, logger, cfg.ShutdownTimeout)
	mux := http.NewServeMux()
	msg.route(mux)
	if err := b.routeIdentity(mux, prov, cfg, logger, th, msg); err != nil {
		return e.fail(err)
	}
	mux.Handle("/graphql", b.graphQL(cfg, logger, tokenVerifier(prov)))
	mux.Handle("GET /healthz", httpserver.Healthz())
	mux.Handle("GET /readyz", httpserver.Readyz(b.ready, logger, th.status))
	mux.Handle("GET /metrics", metrics.Handler())
	// Outermost: logs, audit events and the throttle all read the client
	// address it resolves.
	handler := httpserver.TrustProxies(cfg.TrustedProxies)(httpserver.Stack(mux, logger, metrics))

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return e.fail(fmt.Errorf("listen: %w", err))
	}
	logger.InfoContext(ctx, "gatehouse started",
		"addr", ln.Addr().String(),
		"issuer", cfg.Issuer,
		"database", b.describe(),
		"version", buildVersion(),
		"dev", cfg.Dev)
	b.hintFirstKey(ctx, logger)
	served := httpserver.Serve(ctx, &http.Server{Handler: handler}, ln, logger, cfg.ShutdownTimeout)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := b.tenants.FlushFunnel(fctx); err != nil {
		logger.ErrorContext(fctx, "flush funnel counts at shutdown", "err", err)
	}
	if served != nil {
		return e.fail(served)
	}
	logger.InfoContext(ctx, "gatehouse stopped")
	return exitOK
}
