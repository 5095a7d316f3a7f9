package main

// The sign-in throttle of this node: counters in Redis when configured
// (with this node's own as the fallback), the bound on password hashing,
// and what they report to /metrics and /readyz.

import (
	"context"
	"log/slog"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-id/gatehouse/internal/config"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/ratelimit"
)

type throttle struct {
	limiter ratelimit.Limiter
	// status is "" or why the node is degraded, for /readyz.
	status func() string
	close  func() error
}

// openThrottle never fails on an unreachable Redis: the node starts on its
// own counters and moves to Redis when it answers.
func openThrottle(ctx context.Context, cfg *config.Config, logger *slog.Logger, reg *prometheus.Registry, getenv func(string) string) (*throttle, error) {
	password.SetConcurrency(cfg.PasswordConcurrency, 0)
	if getenv("GOMEMLIMIT") == "" {
		// Each hash leaves 64 MiB of garbage, and serve's GOGC=400 would
		// let several hundred MiB of it pile up: a soft limit just above
		// what the hashing bound can hold live keeps memory flat under a
		// burst of sign-ins (docs/BENCHMARKS.md).
		debug.SetMemoryLimit(memoryLimit(password.Concurrency()))
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_password_hash_slots",
			Help: "How many argon2id password hashes may run at once on this node.",
		}, func() float64 { return float64(password.Concurrency()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gatehouse_password_hashes_total",
			Help: "argon2id password hashes and verifications run on this node (dummy verifications included).",
		}, func() float64 { return float64(password.GateStats().Hashes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gatehouse_password_hash_busy_total",
			Help: "Password hashes turned away because every slot stayed taken (answered 503 or RATE_LIMITED).",
		}, func() float64 { return float64(password.GateStats().Busy) }),
	)
	mem := ratelimit.NewMemory(ratelimit.MemoryConfig{})
	if cfg.RedisURL == "" {
		reg.MustRegister(degradedGauge(func() bool { return false }))
		return &throttle{limiter: mem, status: func() string { return "" }, close: func() error { return nil }}, nil
	}
	ratelimit.RouteRedisLogs(logger)
	r, err := ratelimit.OpenRedis(ratelimit.RedisConfig{URL: cfg.RedisURL})
	if err != nil {
		return nil, err
	}
	f := ratelimit.NewFailover(ratelimit.FailoverConfig{Primary: r, Fallback: mem, Logger: logger})
	f.Probe(ctx)
	go f.Watch(ctx)
	reg.MustRegister(degradedGauge(f.Degraded))
	return &throttle{limiter: f, status: f.Status, close: r.Close}, nil
}

// memoryLimit is the Go soft memory limit for slots concurrent hashes at
// password.Default: their 64 MiB each, plus 256 MiB for everything else.
func memoryLimit(slots int) int64 {
	return int64(slots)*int64(password.Default.Memory)<<10 + 256<<20
}

func degradedGauge(degraded func() bool) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatehouse_ratelimit_degraded",
		Help: "1 while the shared rate-limit store (Redis) is unreachable and this node counts sign-in attempts on its own, else 0.",
	}, func() float64 {
		if degraded() {
			return 1
		}
		return 0
	})
}
