package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestServeWithoutRedis: with GATEHOUSE_REDIS_URL naming a server that
// does not answer, serve still starts, /readyz says degraded (but ready),
// /metrics shows the gauge and the log says why; behind a trusted proxy the
// access log shows the client's address from X-Forwarded-For.
func TestServeWithoutRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	dataDir := t.TempDir()
	env := func(k string) string {
		return map[string]string{"GATEHOUSE_DATA_DIR": dataDir, "GATEHOUSE_ADDR": "127.0.0.1:0",
			"GATEHOUSE_REDIS_URL": "redis://" + dead + "/0", "GATEHOUSE_TRUSTED_PROXIES": "127.0.0.1"}[k]
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	logs := &lineWriter{lines: make(chan string, 100)}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, env, io.Discard, logs) }()
	var base string
	for base == "" {
		select {
		case line := <-logs.lines:
			var rec struct{ Msg, Addr string }
			_ = json.Unmarshal([]byte(line), &rec)
			if rec.Msg == "gatehouse started" {
				base = "http://" + rec.Addr
			}
		case code := <-done:
			t.Fatalf("serve exited with %d before starting:\n%s", code, logs)
		}
	}
	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.50")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"status":"degraded"`) || !strings.Contains(body, "rate limiter") {
		t.Errorf("/readyz = %d %s, want 200 degraded", code, body)
	}
	if _, body := get("/metrics"); !strings.Contains(body, "gatehouse_ratelimit_degraded 1") || !strings.Contains(body, "gatehouse_password_hash_slots") {
		t.Errorf("/metrics lacks gatehouse_ratelimit_degraded 1 or gatehouse_password_hash_slots")
	}
	stop()
	if code := <-done; code != 0 {
		t.Errorf("serve exited with %d:\n%s", code, logs)
	}
	all := logs.String()
	if !strings.Contains(all, "rate limiter degraded") {
		t.Errorf("the log does not say the throttle is degraded:\n%s", all)
	}
	if !strings.Contains(all, `"remote_ip":"203.0.113.50"`) {
		t.Errorf("access log does not show the client behind the trusted proxy:\n%s", all)
	}
}
