package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The Redis URL may hold a password: it comes from the environment or a
// file, never the command line, and a problem with it never shows the
// password.
func TestRedisURL(t *testing.T) {
	const withPassword = "redis://:s3cret@cache:6379/2"
	dir := t.TempDir()
	file := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("redis.url", withPassword+"\n", 0o600)
	for _, c := range []struct {
		name  string
		env   map[string]string
		args  []string
		want  string // the URL loaded; "" when an error is wanted
		error string // in the error
	}{
		{"environment", map[string]string{"GATEHOUSE_REDIS_URL": withPassword}, nil, withPassword, ""},
		{"TLS", map[string]string{"GATEHOUSE_REDIS_URL": "rediss://user:s3cret@cache:6380/0?dial_timeout=1s"}, nil, "rediss://user:s3cret@cache:6380/0?dial_timeout=1s", ""},
		{"file", map[string]string{"GATEHOUSE_REDIS_URL_FILE": good}, nil, withPassword, ""},
		{"file by flag", nil, []string{"--redis-url-file", good}, withPassword, ""},
		{"both", map[string]string{"GATEHOUSE_REDIS_URL": withPassword, "GATEHOUSE_REDIS_URL_FILE": good}, nil, "", "not both"},
		{"readable by others", map[string]string{"GATEHOUSE_REDIS_URL_FILE": file("open.url", withPassword, 0o644)}, nil, "", "must not be accessible"},
		{"empty file", map[string]string{"GATEHOUSE_REDIS_URL_FILE": file("empty.url", "\n", 0o600)}, nil, "", "is empty"},
		{"missing file", map[string]string{"GATEHOUSE_REDIS_URL_FILE": filepath.Join(dir, "nope")}, nil, "", "GATEHOUSE_REDIS_URL_FILE"},
		{"bad URL in a file", map[string]string{"GATEHOUSE_REDIS_URL_FILE": file("bad.url", "redis://:s3cret@cache/x", 0o600)}, nil, "",
			`the Redis URL in ` + filepath.Join(dir, "bad.url") + ` "redis://:xxxxx@cache/x": invalid database number`},
		// What go-redis's ParseURL refuses, the configuration refuses.
		{"unknown option", map[string]string{"GATEHOUSE_REDIS_URL": "redis://:s3cret@cache:6379/0?colour=blue"}, nil, "", "unexpected option: colour"},
		{"bad option value", map[string]string{"GATEHOUSE_REDIS_URL": "redis://:s3cret@cache:6379/0?dial_timeout=soon"}, nil, "", "invalid dial_timeout duration"},
		{"two path segments", map[string]string{"GATEHOUSE_REDIS_URL": "redis://:s3cret@cache:6379/0/1"}, nil, "", "invalid URL path"},
		{"unparsable", map[string]string{"GATEHOUSE_REDIS_URL": "redis://:s3cret@[::1"}, nil, "", "GATEHOUSE_REDIS_URL: not a valid URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := load(t, c.env, c.args...)
			if c.want != "" {
				if err != nil || cfg.RedisURL != c.want {
					t.Fatalf("Load = %v, %v; want %q", cfg, err, c.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.error) || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("Load error = %v; want it to say %q and never show the password", err, c.error)
			}
		})
	}
	// Never a flag: other users of the machine read argv (ps).
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	Bind(fs, func(string) string { return "" })
	if err := fs.Parse([]string{"--redis-url", withPassword}); err == nil {
		t.Fatal("--redis-url was accepted on the command line")
	}
}
