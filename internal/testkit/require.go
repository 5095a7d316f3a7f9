package testkit

import (
	"fmt"
	"os"
	"testing"
)

// RequireAllEnv, set to 1 (as CI does), turns a test's missing dependency
// — a database, Redis, Node, Chromium — into a failure instead of a skip.
const RequireAllEnv = "GATEHOUSE_TEST_REQUIRE_ALL"

// RedisURLEnv names the Redis server tests may use
// (redis://127.0.0.1:6379/0); each test keeps to a key prefix of its own.
const RedisURLEnv = "GATEHOUSE_TEST_REDIS_URL"

// Missing skips t because what it needs is missing, saying how to get it,
// or fails t under RequireAllEnv=1.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(RequireAllEnv) == "1" {
		t.Fatalf("%s; %s=1 makes this a failure", msg, RequireAllEnv)
		return
	}
	t.Skip(msg)
}

// RedisURL returns RedisURLEnv (see ServerURL).
func RedisURL(t testing.TB) string {
	t.Helper()
	return ServerURL(t, RedisURLEnv, "Redis", "redis://127.0.0.1:6379/0")
}

// ServerURL returns the URL of the server (named by kind, "Redis") that
// the environment variable env gives, or "" after logging how to set it
// (the caller leaves that server out); under RequireAllEnv=1 an unset URL
// fails t.
func ServerURL(t testing.TB, env, kind, example string) string {
	t.Helper()
	url := os.Getenv(env)
	switch {
	case url != "":
		return url
	case os.Getenv(RequireAllEnv) == "1":
		t.Fatalf("%s=1 but %s is not set; set it to a %s server URL, e.g. %s", RequireAllEnv, env, kind, example)
	default:
		t.Logf("%s left out; set %s=%s to run it too", kind, env, example)
	}
	return ""
}
