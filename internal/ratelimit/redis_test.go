package ratelimit

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

// openTestRedis is a Redis limiter whose keys carry a prefix of this test's
// own, deleted when the test ends.
func openTestRedis(t *testing.T, url string, now func() time.Time) *Redis {
	t.Helper()
	prefix := "gatehouse-test:" + t.Name() + ":" + rand.Text()[:8] + ":"
	r, err := OpenRedis(RedisConfig{URL: url, Prefix: prefix, Now: now, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Ping(t.Context()); err != nil {
		t.Fatalf("ratelimit: redis at %s does not answer: %v", url, err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := r.client.Keys(ctx, redisGlobEscape(prefix)+"*").Result()
		if len(keys) > 0 {
			_ = r.client.Del(ctx, keys...).Err()
		}
		_ = r.Close()
	})
	return r
}

func redisGlobEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}

// privateRedis is a redis-server of this test's own on a free loopback
// port, which the test may stop and start again.
type privateRedis struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

// startPrivateRedis needs the redis-server binary: without it the test is
// skipped, or fails under GATEHOUSE_TEST_REQUIRE_ALL=1.
func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		testkit.Missing(t, "this test starts its own redis-server, which is not installed (apt-get install redis-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	p := &privateRedis{t: t, port: port, dir: t.TempDir()}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *privateRedis) url() string { return "redis://127.0.0.1:" + strconv.Itoa(p.port) + "/0" }

func (p *privateRedis) start() {
	p.t.Helper()
	p.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(p.port),
		"--save", "", "--appendonly", "no", "--dir", p.dir)
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start redis-server: %v", err)
	}
	// An external process: poll until it answers, with a deadline.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(p.port), MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("redis-server on port %d did not answer: %v", p.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *privateRedis) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	var exit *exec.ExitError
	if err := p.cmd.Wait(); err != nil && !errors.As(err, &exit) {
		p.t.Logf("wait for redis-server: %v", err)
	}
	p.cmd = nil
}

// Without an injected clock the scripts read the server's, so that nodes
// whose clocks differ agree on every wait.
func TestRedisServerClock(t *testing.T) {
	t.Parallel()
	url := testkit.RedisURL(t)
	if url == "" {
		return
	}
	r := openTestRedis(t, url, nil)
	k := Key{"k", Policy{Free: 2, Base: time.Minute}}
	attempt(t, r, k)
	attempt(t, r, k)
	_, wait := attempt(t, r, k)
	if wait <= 50*time.Second || wait > time.Minute {
		t.Fatalf("wait %v on the server's clock, want just under 1m", wait)
	}
}
