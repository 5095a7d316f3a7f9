package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestThrottleSettings(t *testing.T) {
	c, err := load(t, map[string]string{
		"GATEHOUSE_REDIS_URL":            "redis://:s3cret@127.0.0.1:6379/2",
		"GATEHOUSE_TRUSTED_PROXIES":      "10.0.0.0/8, 2001:db8::/32 192.0.2.1",
		"GATEHOUSE_PASSWORD_CONCURRENCY": "6",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("192.0.2.1/32")}
	if c.RedisURL != "redis://:s3cret@127.0.0.1:6379/2" || !slices.Equal(c.TrustedProxies, want) || c.PasswordConcurrency != 6 {
		t.Fatalf("got %q %v %d", c.RedisURL, c.TrustedProxies, c.PasswordConcurrency)
	}
	if c, err := load(t, nil); err != nil || c.RedisURL != "" || c.TrustedProxies != nil || c.PasswordConcurrency != 0 {
		t.Fatalf("defaults: %v %+v", err, c)
	}

	_, err = load(t, map[string]string{
		"GATEHOUSE_REDIS_URL":            "http://:s3cret@cache:6379",
		"GATEHOUSE_TRUSTED_PROXIES":      "10.0.0.0/8, 0.0.0.0/0",
		"GATEHOUSE_PASSWORD_CONCURRENCY": "0",
	})
	for _, part := range []string{
		`GATEHOUSE_REDIS_URL "http://:xxxxx@cache:6379": must be a redis:// or rediss:// URL`,
		`GATEHOUSE_TRUSTED_PROXIES "10.0.0.0/8, 0.0.0.0/0": 0.0.0.0/0 would trust every client's X-Forwarded-For`,
		`GATEHOUSE_PASSWORD_CONCURRENCY "0": must be a whole number from 1 to 1024`,
	} {
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("error %v\nlacks %s", err, part)
		}
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error leaks the Redis password: %v", err)
	}
	for _, bad := range []string{"10.0.0.0/33", "not-an-address", "::/0"} {
		if _, err := load(t, map[string]string{"GATEHOUSE_TRUSTED_PROXIES": bad}); err == nil {
			t.Errorf("GATEHOUSE_TRUSTED_PROXIES=%q accepted", bad)
		}
	}
	for _, bad := range []string{"redis://", "redis://host/x", "redis://[::1"} {
		if _, err := load(t, map[string]string{"GATEHOUSE_REDIS_URL": bad}); err == nil {
			t.Errorf("GATEHOUSE_REDIS_URL=%q accepted", bad)
		}
	}
}
