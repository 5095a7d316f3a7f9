package oidc

import (
	"log/slog"
	"os"
	"testing"
)

// TestMain quiets zitadel's OP, which logs every refused request (the
// negative tests make many) through the default logger.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	os.Exit(m.Run())
}
