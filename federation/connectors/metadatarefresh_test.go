package connectors_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/federation/connectors"
	"github.com/gatehouse-id/gatehouse/internal/safehttp"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// idpMetadata is an IdP's metadata document naming entityID, its SSO
// service at sso, and certs (PEM) as signing keys.
func idpMetadata(entityID, sso string, certs ...string) string {
	var keys strings.Builder
	for _, c := range certs {
		b, _ := pem.Decode([]byte(c))
		fmt.Fprintf(&keys, `<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`,
			pemBase64(b.Bytes))
	}
	return `<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor entityID="` + entityID + `" xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">` +
		`<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` + keys.String() +
		`<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="` + sso + `"/>` +
		`</md:IDPSSODescriptor></md:EntityDescriptor>`
}

func pemBase64(der []byte) string {
	s := string(pem.EncodeToMemory(&pem.Block{Type: "X", Bytes: der}))
	s = strings.TrimPrefix(s, "-----BEGIN X-----\n")
	return strings.ReplaceAll(strings.TrimSuffix(s, "-----END X-----\n"), "\n", "")
}

// metadataServer is an IdP's metadata URL, served in-process on
// loopback; the test changes what it answers.
type metadataServer struct {
	mu     sync.Mutex
	status int
	body   string
	hits   int
}

func (m *metadataServer) set(status int, body string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.status, m.body = status, body
}

func (m *metadataServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hits++
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.WriteHeader(m.status)
	_, _ = w.Write([]byte(m.body))
}

// A SAML connection made from a metadata URL follows its IdP: a pass
// fetches the URL of connections whose last refresh is older than the
// interval, stores a rolled certificate and a moved SSO URL (audited with
// the fields that changed; the registry builds a new connector), and
// changes nothing — never clearing certificates — when the fetch fails,
// the document lists no certificate, or the address is internal outside
// development (safehttp without the loopback allowance).
func TestRefreshConnectionMetadata(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		clock := testkit.NewClock()
		sl, err := seal.New(make([]byte, seal.KeySize))
		must(t, err)
		svc := tenants.NewService(db.Client(), tenants.WithSealer(sl), tenants.WithDev(true), tenants.WithClock(clock.Now),
			tenants.WithMetadataRefresh(24*time.Hour))
		admin := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Instance, Actor: "key_admin"})
		sys := viewer.SystemContext(context.Background())
		org, err := svc.CreateOrganization(admin, tenants.CreateOrganizationInput{Name: "Initech", Slug: "initech"})
		must(t, err)

		md := &metadataServer{}
		srv := httptest.NewServer(md)
		t.Cleanup(srv.Close)
		certA, certB := idpCert(t), idpCert(t)
		const entity, sso1, sso2 = "https://idp.initech.test/saml", "https://idp.initech.test/sso", "https://login.initech.test/sso"
		md.set(http.StatusOK, idpMetadata(entity, sso1, certA))
		dev := safehttp.New(safehttp.Config{Timeout: 5 * time.Second, MaxBytes: 1 << 20,
			AllowedInternal: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}).HTTPClient()
		fetch := connectors.FetchSAMLMetadata(dev)

		url := srv.URL + "/metadata"
		idp, err := fetch(admin, url)
		must(t, err)
		c, err := svc.CreateSAMLConnection(admin, tenants.CreateSAMLConnectionInput{OrganizationID: org.ID, Name: "Okta", IdP: idp, MetadataURL: url})
		must(t, err)
		_, err = svc.ActivateConnection(admin, c.ID)
		must(t, err)
		reg := connectors.New(connectors.Config{Tenants: svc, Issuer: "https://id.example.com"})
		load := func() (certs []string, ssoURL string, refreshed *time.Time, updated time.Time) {
			t.Helper()
			c, err := db.Client().Connection.Get(sys, c.ID)
			must(t, err)
			return c.IdpCertificates, c.IdpSSOURL, c.IdpMetadataRefreshedAt, c.UpdatedAt
		}
		pass := func(want tenants.MetadataRefreshReport) {
			t.Helper()
			rep, err := svc.RefreshConnectionMetadata(sys, clock.Now(), fetch)
			must(t, err)
			if rep != want {
				t.Fatalf("pass at %s: %+v, want %+v", clock.Now(), rep, want)
			}
		}
		events := func(action string) int {
			return db.Client().AuditEvent.Query().Where(auditevent.Action(action)).CountX(sys)
		}
		member := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.User, Actor: "usr_1"})
		if _, err := svc.RefreshConnectionMetadata(member, clock.Now(), fetch); err == nil {
			t.Fatal("a user's viewer ran an instance-level pass")
		}

		// Never refreshed: due at once; the same document changes nothing
		// but the time.
		pass(tenants.MetadataRefreshReport{Checked: 1})
		_, _, refreshed, updated := load()
		if refreshed == nil || !refreshed.Equal(clock.Now()) || events("connection.metadata_refreshed") != 0 {
			t.Fatalf("after an unchanged refresh: refreshed at %v, %d events", refreshed, events("connection.metadata_refreshed"))
		}
		first, err := reg.Connector(sys, mustGet(t, db, c.ID))
		must(t, err)

		// Not due within the interval.
		clock.Advance(23 * time.Hour)
		md.set(http.StatusOK, idpMetadata(entity, sso2, certA, certB))
		pass(tenants.MetadataRefreshReport{})

		// Due: the IdP's rollover (a second certificate) and new SSO URL
		// are stored, audited, and the connector is built anew (updated_at
		// changes: the row was made on the real clock, the refresh runs on
		// the test's, which CI also runs a year behind, so "changed", not
		// "later").
		clock.Advance(2 * time.Hour)
		pass(tenants.MetadataRefreshReport{Checked: 1, Changed: 1})
		certs, ssoURL, refreshed, updated2 := load()
		if len(certs) != 2 || ssoURL != sso2 || !refreshed.Equal(clock.Now()) || updated2.Equal(updated) {
			t.Fatalf("after the rollover: %d certificates, SSO URL %q, refreshed %v, updated %v→%v", len(certs), ssoURL, refreshed, updated, updated2)
		}
		evs := db.Client().AuditEvent.Query().Where(auditevent.Action("connection.metadata_refreshed")).AllX(sys)
		if len(evs) != 1 || evs[0].OrganizationID != org.ID ||
			!slices.Equal(toStrings(evs[0].Metadata["changed"]), []string{"ssoURL", "certificates"}) {
			t.Fatalf("connection.metadata_refreshed events %+v", evs)
		}
		second, err := reg.Connector(sys, mustGet(t, db, c.ID))
		must(t, err)
		if first == second {
			t.Error("the registry kept the connector of the old metadata")
		}

		// Failures change nothing of the IdP and are audited once for the
		// streak: the IdP down, a document without a certificate, loopback
		// outside development (each a day later, past the backoff's cap).
		for i, broken := range []func(){
			func() { md.set(http.StatusInternalServerError, "down") },
			func() { md.set(http.StatusOK, idpMetadata(entity, sso1)) },
			func() {
				md.set(http.StatusOK, idpMetadata(entity, sso1, certB))
				fetch = connectors.FetchSAMLMetadata(safehttp.New(safehttp.Config{Timeout: 5 * time.Second}).HTTPClient())
			},
		} {
			broken()
			before := md.hits
			clock.Advance(25 * time.Hour)
			pass(tenants.MetadataRefreshReport{Checked: 1, Failed: 1})
			after, afterSSO, afterRefreshed, _ := load()
			if !slices.Equal(after, certs) || afterSSO != sso2 || !afterRefreshed.Equal(*refreshed) {
				t.Fatalf("failure %d changed the connection: %d certificates, %q, refreshed %v", i, len(after), afterSSO, afterRefreshed)
			}
			if n := events("connection.metadata_refresh_failed"); n != 1 {
				t.Fatalf("failure %d: %d connection.metadata_refresh_failed events, want 1 for the streak", i, n)
			}
			if got := mustGet(t, db, c.ID); got.IdpMetadataFailures != i+1 || got.IdpMetadataError == "" {
				t.Fatalf("failure %d: the connection shows %d failures, error %q", i, got.IdpMetadataFailures, got.IdpMetadataError)
			}
			if i == 2 && md.hits != before {
				t.Error("the production client reached a loopback metadata URL")
			}
		}

		// A failing URL is tried again after a capped exponential backoff
		// (5 minutes after the first failure, doubling, at most the
		// refresh interval), not at every pass; the streak is audited once.
		fetch = connectors.FetchSAMLMetadata(dev)
		md.set(http.StatusInternalServerError, "down")
		failures := func() (int, time.Duration) {
			t.Helper()
			got := mustGet(t, db, c.ID)
			if got.IdpMetadataRetryAt == nil {
				t.Fatal("a failing connection has no retry time")
			}
			return got.IdpMetadataFailures, got.IdpMetadataRetryAt.Sub(clock.Now())
		}
		n, wait := failures()
		for _, want := range []time.Duration{40 * time.Minute, 80 * time.Minute, 160 * time.Minute, 320 * time.Minute,
			640 * time.Minute, 1280 * time.Minute, 24 * time.Hour, 24 * time.Hour} {
			clock.Advance(wait - time.Minute)
			pass(tenants.MetadataRefreshReport{}) // still waiting
			clock.Advance(time.Minute)
			pass(tenants.MetadataRefreshReport{Checked: 1, Failed: 1})
			var next int
			next, wait = failures()
			if next != n+1 || wait != want {
				t.Fatalf("after failure %d: %d failures, next try in %v; want %d and %v", next, next, wait, n+1, want)
			}
			n = next
		}
		if n := events("connection.metadata_refresh_failed"); n != 1 {
			t.Errorf("%d connection.metadata_refresh_failed events for one streak, want 1", n)
		}
		// The next refresh that works ends the streak; a later failure
		// starts (and audits) a new one.
		md.set(http.StatusOK, idpMetadata(entity, sso2, certA, certB))
		clock.Advance(wait)
		pass(tenants.MetadataRefreshReport{Checked: 1})
		if got := mustGet(t, db, c.ID); got.IdpMetadataFailures != 0 || got.IdpMetadataRetryAt != nil || got.IdpMetadataError != "" {
			t.Fatalf("after a refresh that worked: %d failures, retry at %v, error %q", got.IdpMetadataFailures, got.IdpMetadataRetryAt, got.IdpMetadataError)
		}
		md.set(http.StatusInternalServerError, "down")
		clock.Advance(25 * time.Hour)
		pass(tenants.MetadataRefreshReport{Checked: 1, Failed: 1})
		if n, wait := failures(); n != 1 || wait != 5*time.Minute || events("connection.metadata_refresh_failed") != 2 {
			t.Errorf("a new streak: %d failures, next try in %v, %d events; want 1, 5m, 2", n, wait, events("connection.metadata_refresh_failed"))
		}
	})
}

func mustGet(t *testing.T, db testdb.Database, id pulid.ID) *ent.Connection {
	t.Helper()
	c, err := db.Client().Connection.Get(viewer.SystemContext(context.Background()), id)
	must(t, err)
	return c
}

func toStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	if l, ok := v.([]string); ok {
		out = l
	}
	return out
}
