package web

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/tenants"
)

// Home-realm discovery runs at every identifier step, which otherwise
// reads nothing from the database (issue 9's budget: under 5 ms p99). Its
// answers depend on the address's domain only, so they are kept a few
// seconds per domain: a domain verified, a connection activated or a
// policy changed reaches the identifier step within discoveryTTL on every
// node. Nothing is trusted from the memo beyond where to send the browser:
// beginSSO loads the connection and requires it ACTIVE, and
// tenants.SignInFederated checks the organization's verified domains.

// discoveryTTL is how long an answer is reused.
const discoveryTTL = 10 * time.Second

// maxDiscoveryMemo bounds the memo: addresses are typed by anyone, so
// unknown domains must not grow it without end; when full it starts over.
const maxDiscoveryMemo = 10000

type discoveryMemo struct {
	mu      sync.Mutex
	entries map[string]discoveryEntry
}

type discoveryEntry struct {
	d       tenants.Discovery
	found   bool
	expires time.Time
}

// discoverSSO reports the connection discovery sends email to: found is
// false when its domain is no organization's, or SSO is off here.
func (w *Web) discoverSSO(ctx context.Context, email string) (tenants.Discovery, bool, error) {
	if w.cfg.SSO == nil {
		return tenants.Discovery{}, false, nil
	}
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return tenants.Discovery{}, false, nil
	}
	domain, now := strings.ToLower(email[at+1:]), w.cfg.Now()
	w.discovery.mu.Lock()
	e, ok := w.discovery.entries[domain]
	w.discovery.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.d, e.found, nil
	}
	d, found, err := w.cfg.Tenants.DiscoverConnection(ctx, email)
	if err != nil {
		return d, found, err
	}
	w.discovery.mu.Lock()
	if w.discovery.entries == nil || len(w.discovery.entries) >= maxDiscoveryMemo {
		w.discovery.entries = make(map[string]discoveryEntry)
	}
	w.discovery.entries[domain] = discoveryEntry{d: d, found: found, expires: now.Add(discoveryTTL)}
	w.discovery.mu.Unlock()
	return d, found, nil
}
