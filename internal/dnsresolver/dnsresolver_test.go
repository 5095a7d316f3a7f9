package dnsresolver_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/dnsresolver"
	"github.com/gatehouse-id/gatehouse/internal/dnstest"
)

// TestResolverAsksTheConfiguredServer: records set on an in-process server
// come back through the resolver, long values joined from their
// character-strings, a missing name as a not-found DNSError, a SERVFAIL
// as an error that is not "not found".
func TestResolverAsksTheConfiguredServer(t *testing.T) {
	srv := dnstest.Start(t)
	r, err := dnsresolver.New(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	long := strings.Repeat("x", 300)
	srv.SetTXT("_gatehouse-challenge.initech.example", "v=spf1 -all", long)
	got, err := r.LookupTXT(ctx, "_gatehouse-challenge.initech.example.")
	if err != nil || !slices.Contains(got, "v=spf1 -all") || !slices.Contains(got, long) || len(got) != 2 {
		t.Fatalf("LookupTXT = %q, %v; want both records, the long one joined", got, err)
	}

	_, err = r.LookupTXT(ctx, "nothing.initech.example.")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("missing name: err = %#v, want a not-found DNSError", err)
	}

	srv.Fail("broken.initech.example")
	_, err = r.LookupTXT(ctx, "broken.initech.example.")
	if err == nil || errors.As(err, &de) && de.IsNotFound {
		t.Fatalf("SERVFAIL: err = %v, want a failure that is not not-found", err)
	}
}

func TestNewRefusesBadAddresses(t *testing.T) {
	for _, addr := range []string{"127.0.0.1", "dns.example:53", "127.0.0.1:0", "127.0.0.1:99999", ":53"} {
		if _, err := dnsresolver.New(addr); err == nil {
			t.Errorf("New(%q) accepted", addr)
		}
	}
	if r, err := dnsresolver.New(""); err != nil || r != net.DefaultResolver {
		t.Errorf("New(\"\") = %v, %v; want the system resolver", r, err)
	}
	if _, err := dnsresolver.New("[::1]:5353"); err != nil {
		t.Errorf("New([::1]:5353): %v", err)
	}
}
