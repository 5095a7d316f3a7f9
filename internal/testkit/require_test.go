package testkit

import (
	"fmt"
	"testing"
)

// recorder is a testing.TB that records how a helper ended the test.
type recorder struct {
	testing.TB
	ended string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Logf(string, ...any)            {}
func (r *recorder) Skip(args ...any)               { r.ended = "skip: " + fmt.Sprint(args...) }
func (r *recorder) Fatalf(format string, a ...any) { r.ended = "fail: " + fmt.Sprintf(format, a...) }

func TestMissing(t *testing.T) {
	for _, c := range []struct {
		requireAll, redisURL string
		missing, redis       string // how each helper ends the test ("" = it goes on)
	}{
		{"", "", "skip", ""},
		{"1", "", "fail", "fail"},
		{"", "redis://127.0.0.1:6379/0", "skip", ""},
		{"1", "redis://127.0.0.1:6379/0", "fail", ""},
	} {
		t.Run(fmt.Sprintf("require_all=%q,redis=%q", c.requireAll, c.redisURL), func(t *testing.T) {
			t.Setenv(RequireAllEnv, c.requireAll)
			t.Setenv(RedisURLEnv, c.redisURL)
			r := &recorder{TB: t}
			Missing(r, "needs %s", "chromium")
			if got := r.ended; len(got) < 4 || got[:4] != c.missing {
				t.Errorf("Missing ended the test with %q, want %s", got, c.missing)
			}
			r = &recorder{TB: t}
			url := RedisURL(r)
			if got := r.ended; (c.redis == "" && got != "") || (c.redis != "" && (len(got) < 4 || got[:4] != c.redis)) {
				t.Errorf("RedisURL ended the test with %q, want %q", got, c.redis)
			}
			if c.redis == "" && url != c.redisURL {
				t.Errorf("RedisURL = %q, want %q", url, c.redisURL)
			}
		})
	}
}
