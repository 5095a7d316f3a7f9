package tenants_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/role"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// connFixture is a service with a sealer and a clock, two organizations
// (acme, the tenant under test, and beta, another tenant) and viewers.
type connFixture struct {
	svc        *tenants.Service
	client     *ent.Client
	clock      *testkit.Clock
	sys, admin context.Context
	acme, beta *ent.Organization
}

func newConnFixture(t *testing.T, db testdb.Database, opts ...tenants.Option) *connFixture {
	t.Helper()
	clock := testkit.NewClock()
	key := make([]byte, seal.KeySize)
	key[0] = 9
	sl, err := seal.New(key)
	must(t, err)
	client := db.Client()
	f := &connFixture{
		svc: tenants.NewService(client, append([]tenants.Option{tenants.WithClock(clock.Now), tenants.WithSealer(sl),
			tenants.WithPasswordParams(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32})}, opts...)...),
		client: client, clock: clock,
		sys:   viewer.SystemContext(context.Background()),
		admin: viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Instance, Actor: "key_admin"}),
	}
	if f.acme, err = f.svc.CreateOrganization(f.admin, tenants.CreateOrganizationInput{Name: "Acme", Slug: "acme"}); err != nil {
		t.Fatal(err)
	}
	if f.beta, err = f.svc.CreateOrganization(f.admin, tenants.CreateOrganizationInput{Name: "Beta", Slug: "beta"}); err != nil {
		t.Fatal(err)
	}
	return f
}

// as is an organization viewer holding perms in org.
func as(org pulid.ID, perms ...string) context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Organization, Actor: "usr_caller",
		Organizations: []pulid.ID{org}, Permissions: map[pulid.ID][]string{org: perms}})
}

func (f *connFixture) role(t *testing.T, org *ent.Organization, key string) *ent.Role {
	t.Helper()
	return f.client.Role.Query().Where(role.OrganizationID(org.ID), role.Key(key)).OnlyX(f.sys)
}

// idpCert is a certificate an IdP might sign with, as PEM.
func idpCert(t *testing.T, cn string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(253402300799, 0)} // 9999-12-31: never ages
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	must(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func actions(t *testing.T, f *connFixture, target pulid.ID) []string {
	t.Helper()
	evs := f.client.AuditEvent.Query().Where(auditevent.TargetID(string(target))).Order(ent.Asc(auditevent.FieldID)).AllX(f.sys)
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Action
	}
	return out
}

// TestSAMLConnectionLifecycle: a SAML connection is created DRAFT with a
// sealed SP key, refuses activation until complete (naming what it
// lacks), rotates and retires SP keys, deactivates and is deleted, each
// change audited.
func TestSAMLConnectionLifecycle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newConnFixture(t, db)
		mgr := as(f.acme.ID, "organization:read", "connections:manage")
		okta := connection.PresetOKTA
		c, err := f.svc.CreateSAMLConnection(mgr, tenants.CreateSAMLConnectionInput{OrganizationID: f.acme.ID, Name: " Okta ",
			IdP:                SAMLIdP("http://www.okta.com/exk1", "", nil),
			ConnectionSettings: tenants.ConnectionSettings{Preset: &okta}})
		must(t, err)
		if c.State != connection.StateDRAFT || c.Name != "Okta" || c.Preset != okta || c.AllowIdpInitiated || len(c.SpKeys) != 1 || pulid.ID(c.ID).Prefix() != "conn" {
			t.Fatalf("created %+v", c)
		}
		keys, err := f.svc.ConnectionSAMLKeys(f.sys, c)
		must(t, err)
		if len(keys) != 1 || keys[0].PrivateKey.N.BitLen() != 2048 || !keys[0].PrivateKey.PublicKey.Equal(keys[0].Certificate.PublicKey) {
			t.Fatalf("SP keys %+v: want one RSA-2048 pair matching its certificate", keys)
		}
		if bytes.Contains(c.SpKeys[0].SealedKey, keys[0].PrivateKey.D.Bytes()) {
			t.Fatal("the SP private key is stored in the clear")
		}

		_, err = f.svc.ActivateConnection(mgr, c.ID)
		var ie *tenants.InputError
		if !errors.As(err, &ie) || ie.Field != "ssoURL" || !strings.Contains(ie.Reason, "ssoURL, certificates") {
			t.Fatalf("activating an incomplete connection: %v, want an InputError naming ssoURL and certificates", err)
		}
		url, cert := "https://acme.okta.example/app/sso/saml", idpCert(t, "okta")
		c, err = f.svc.UpdateConnection(mgr, tenants.UpdateConnectionInput{ID: c.ID, SSOURL: &url, Certificates: []string{cert, cert}})
		must(t, err)
		if c.IdpSSOURL != url || c.IdpSSOBinding != tenants.SAMLBindingRedirect || len(c.IdpCertificates) != 1 {
			t.Fatalf("after update: %q %q %d certificates", c.IdpSSOURL, c.IdpSSOBinding, len(c.IdpCertificates))
		}
		if c, err = f.svc.ActivateConnection(mgr, c.ID); err != nil || c.State != connection.StateACTIVE {
			t.Fatalf("activate: %v, %v", c, err)
		}
		// An active connection stays complete.
		if _, err := f.svc.UpdateConnection(mgr, tenants.UpdateConnectionInput{ID: c.ID, SSOURL: new(string)}); !errors.As(err, &ie) || ie.Field != "ssoURL" {
			t.Errorf("emptying an active connection's SSO URL: %v, want an InputError", err)
		}

		// Rotation: a new first key, the old kept until retired.
		old := c.SpKeys[0].ID
		c, err = f.svc.RotateConnectionKey(mgr, c.ID)
		must(t, err)
		if len(c.SpKeys) != 2 || c.SpKeys[1].ID != old || c.SpKeys[0].ID == old {
			t.Fatalf("after rotation: %+v", c.SpKeys)
		}
		certs, err := tenants.ConnectionSPCertificates(c)
		must(t, err)
		keys, err = f.svc.ConnectionSAMLKeys(f.sys, c)
		must(t, err)
		if len(certs) != 2 || len(keys) != 2 || !keys[0].Certificate.Equal(certs[0]) || keys[1].ID != old {
			t.Fatalf("keys after rotation: %d certificates, %d pairs", len(certs), len(keys))
		}
		if _, err := f.svc.RetireConnectionKey(mgr, c.ID, c.SpKeys[0].ID); !errors.As(err, &ie) || ie.Field != "keyID" {
			t.Errorf("retiring the signing key: %v, want an InputError", err)
		}
		if _, err := f.svc.RetireConnectionKey(mgr, c.ID, "spk_nope"); !errors.As(err, &ie) {
			t.Errorf("retiring an unknown key: %v, want an InputError", err)
		}
		c, err = f.svc.RetireConnectionKey(mgr, c.ID, old)
		must(t, err)
		if len(c.SpKeys) != 1 || c.SpKeys[0].ID == old {
			t.Fatalf("after retiring: %+v", c.SpKeys)
		}
		// A sealed key copied to another connection does not open there.
		other, err := f.svc.CreateSAMLConnection(mgr, tenants.CreateSAMLConnectionInput{OrganizationID: f.acme.ID, Name: "Other"})
		must(t, err)
		other.SpKeys = c.SpKeys
		if _, err := f.svc.ConnectionSAMLKeys(f.sys, other); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("a key moved to another connection: %v, want seal.ErrOpen", err)
		}

		if c, err = f.svc.DeactivateConnection(mgr, c.ID); err != nil || c.State != connection.StateINACTIVE {
			t.Fatalf("deactivate: %v, %v", c, err)
		}
		must(t, f.svc.DeleteConnection(mgr, c.ID))
		if n := f.client.Connection.Query().Where(connection.ID(c.ID)).CountX(f.sys); n != 0 {
			t.Errorf("deleted connection still there")
		}
		want := []string{"connection.create", "connection.update", "connection.activate", "connection.key.rotate",
			"connection.key.retire", "connection.deactivate", "connection.delete"}
		if got := actions(t, f, c.ID); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("audit trail %v, want %v", got, want)
		}
	})
}

func SAMLIdP(entity, url string, certs []string) tenants.SAMLIdP {
	return tenants.SAMLIdP{EntityID: entity, SSOURL: url, Certificates: certs}
}

// TestOIDCConnection: the client secret is sealed, opens only through
// ConnectionOIDCClientSecret, and never reaches the audit trail; scopes
// always include openid; activation needs issuer, client id and secret.
func TestOIDCConnection(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newConnFixture(t, db)
		const secret = "s3cr3t-client-secret-value"
		c, err := f.svc.CreateOIDCConnection(f.admin, tenants.CreateOIDCConnectionInput{OrganizationID: f.acme.ID, Name: "Entra",
			Issuer: "https://login.microsoftonline.example/tenant/v2.0", ClientID: "client-1", Scopes: []string{"email", "groups"}})
		must(t, err)
		if strings.Join(c.OidcScopes, " ") != "openid email groups" {
			t.Errorf("scopes %v", c.OidcScopes)
		}
		var ie *tenants.InputError
		if _, err := f.svc.ActivateConnection(f.admin, c.ID); !errors.As(err, &ie) || ie.Field != "clientSecret" {
			t.Fatalf("activating without a secret: %v", err)
		}
		s := secret
		c, err = f.svc.UpdateConnection(f.admin, tenants.UpdateConnectionInput{ID: c.ID, ClientSecret: &s})
		must(t, err)
		if bytes.Contains(c.OidcClientSecretSealed, []byte(secret)) {
			t.Fatal("client secret stored in the clear")
		}
		got, err := f.svc.ConnectionOIDCClientSecret(f.sys, c)
		if err != nil || got != secret {
			t.Fatalf("unsealed secret %q, %v", got, err)
		}
		if _, err := f.svc.ActivateConnection(f.admin, c.ID); err != nil {
			t.Fatal(err)
		}
		// SAML fields do not apply to an OIDC connection.
		if _, err := f.svc.UpdateConnection(f.admin, tenants.UpdateConnectionInput{ID: c.ID, SSOURL: &s}); !errors.As(err, &ie) || ie.Field != "ssoURL" {
			t.Errorf("SAML field on OIDC: %v", err)
		}
		if _, err := f.svc.ConnectionSAMLKeys(f.sys, c); err == nil {
			t.Error("SAML keys of an OIDC connection")
		}
		for _, e := range f.client.AuditEvent.Query().Where(auditevent.TargetID(string(c.ID))).AllX(f.sys) {
			if b, _ := json.Marshal(e.Metadata); bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s event holds the client secret: %s", e.Action, b)
			}
		}
	})
}

// TestConnectionValidation: every bad input is refused with the field it
// is about, before anything is written.
func TestConnectionValidation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newConnFixture(t, db)
		cert := idpCert(t, "idp")
		der, _ := pem.Decode([]byte(cert))
		bad := func(s string) *string { return &s }
		ownerRole, betaAdmin := f.role(t, f.acme, "owner").ID, f.role(t, f.beta, "admin").ID
		adminCaller := as(f.acme.ID, "organization:read", "connections:manage", "members:read")
		for _, c := range []struct {
			name  string
			ctx   context.Context
			in    tenants.CreateSAMLConnectionInput
			field string
		}{
			{"empty name", f.admin, tenants.CreateSAMLConnectionInput{Name: " "}, "name"},
			{"http SSO URL", f.admin, tenants.CreateSAMLConnectionInput{Name: "x", IdP: SAMLIdP("", "http://idp.example/sso", nil)}, "ssoURL"},
			{"relative SSO URL", f.admin, tenants.CreateSAMLConnectionInput{Name: "x", IdP: SAMLIdP("", "/sso", nil)}, "ssoURL"},
			{"SSO URL with credentials", f.admin, tenants.CreateSAMLConnectionInput{Name: "x", IdP: SAMLIdP("", "https://a:b@idp.example/", nil)}, "ssoURL"},
			{"http metadata URL", f.admin, tenants.CreateSAMLConnectionInput{Name: "x", MetadataURL: "http://idp.example/md"}, "metadataURL"},
			{"unknown binding", f.admin, tenants.CreateSAMLConnectionInput{Name: "x", IdP: tenants.SAMLIdP{SSOURL: "https://idp.example/", SSOBinding: "urn:artifact"}}, "ssoBinding"},
			{"garbage certificate", f.admin, tenants.CreateSAMLConnectionInput{Name: "x", IdP: SAMLIdP("", "", []string{"not a cert"})}, "certificates"},
			{"two blocks in one", f.admin, tenants.CreateSAMLConnectionInput{Name: "x", IdP: SAMLIdP("", "", []string{cert + cert})}, "certificates"},
			{"a key, not a certificate", f.admin, tenants.CreateSAMLConnectionInput{Name: "x", IdP: SAMLIdP("", "", []string{"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"})}, "certificates"},
			{"another organization's role", f.admin, tenants.CreateSAMLConnectionInput{Name: "x", ConnectionSettings: tenants.ConnectionSettings{DefaultRoleID: &betaAdmin}}, "defaultRoleID"},
			{"mapped role of another organization", f.admin, tenants.CreateSAMLConnectionInput{Name: "x", ConnectionSettings: tenants.ConnectionSettings{GroupRoleMappings: []tenants.GroupRole{{Group: "eng", RoleID: betaAdmin}}}}, "groupRoleMappings"},
			{"a role the caller lacks", adminCaller, tenants.CreateSAMLConnectionInput{Name: "x", ConnectionSettings: tenants.ConnectionSettings{DefaultRoleID: &ownerRole}}, "defaultRoleID"},
			{"bad custom attribute key", f.admin, tenants.CreateSAMLConnectionInput{Name: "x", ConnectionSettings: tenants.ConnectionSettings{AttributeMapping: &tenants.AttributeMapping{Custom: map[string]string{"1x": "a"}}}}, "attributeMapping.custom"},
			{"unknown preset", f.admin, tenants.CreateSAMLConnectionInput{Name: "x", ConnectionSettings: tenants.ConnectionSettings{Preset: (*connection.Preset)(bad("ping"))}}, "preset"},
		} {
			c.in.OrganizationID = f.acme.ID
			_, err := f.svc.CreateSAMLConnection(c.ctx, c.in)
			var ie *tenants.InputError
			var fe *tenants.ForbiddenError
			switch {
			case errors.As(err, &ie) && ie.Field == c.field:
			case errors.As(err, &fe) && fe.Field == c.field:
			default:
				t.Errorf("%s: %v, want an error on %s", c.name, err, c.field)
			}
		}
		for _, c := range []struct {
			name  string
			in    tenants.CreateOIDCConnectionInput
			field string
		}{
			{"http issuer", tenants.CreateOIDCConnectionInput{Name: "x", Issuer: "http://idp.example"}, "issuer"},
			{"issuer with a query", tenants.CreateOIDCConnectionInput{Name: "x", Issuer: "https://idp.example/?a=b"}, "issuer"},
			{"bad scope", tenants.CreateOIDCConnectionInput{Name: "x", Scopes: []string{"a b"}}, "scopes"},
			{"secret with a newline", tenants.CreateOIDCConnectionInput{Name: "x", ClientSecret: "a\nb"}, "clientSecret"},
		} {
			c.in.OrganizationID = f.acme.ID
			var ie *tenants.InputError
			if _, err := f.svc.CreateOIDCConnection(f.admin, c.in); !errors.As(err, &ie) || ie.Field != c.field {
				t.Errorf("%s: %v, want an InputError on %s", c.name, err, c.field)
			}
		}
		if n := f.client.Connection.Query().CountX(f.sys); n != 0 {
			t.Errorf("%d connections written by refused creates", n)
		}

		// Good inputs: bare base64 DER (as metadata holds it), loopback
		// http, and http anywhere in dev mode.
		b64 := base64.StdEncoding.EncodeToString(der.Bytes)
		c, err := f.svc.CreateSAMLConnection(f.admin, tenants.CreateSAMLConnectionInput{OrganizationID: f.acme.ID, Name: "x",
			IdP: SAMLIdP("e", "http://127.0.0.1:8080/sso", []string{b64[:40] + "\n  " + b64[40:]})})
		must(t, err)
		if len(c.IdpCertificates) != 1 || c.IdpCertificates[0] != cert {
			t.Errorf("certificate stored as %q, want the PEM %q", c.IdpCertificates, cert)
		}
		dev := tenants.NewService(f.client, tenants.WithDev(true), tenants.WithSealer(must1(seal.New(make([]byte, 32)))))
		if _, err := dev.CreateOIDCConnection(f.admin, tenants.CreateOIDCConnectionInput{OrganizationID: f.acme.ID, Name: "x", Issuer: "http://idp.test"}); err != nil {
			t.Errorf("http issuer in dev mode: %v", err)
		}
	})
}

func must1[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestConnectionAccess: another organization's caller cannot see or
// change a connection (NOT_FOUND, as if missing); a member who may read
// the organization but lacks connections:manage is FORBIDDEN.
func TestConnectionAccess(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newConnFixture(t, db)
		c, err := f.svc.CreateSAMLConnection(f.admin, tenants.CreateSAMLConnectionInput{OrganizationID: f.acme.ID, Name: "Okta"})
		must(t, err)
		name := "Renamed"
		ops := map[string]func(ctx context.Context) error{
			"update": func(ctx context.Context) error {
				_, err := f.svc.UpdateConnection(ctx, tenants.UpdateConnectionInput{ID: c.ID, Name: &name})
				return err
			},
			"activate":   func(ctx context.Context) error { _, err := f.svc.ActivateConnection(ctx, c.ID); return err },
			"deactivate": func(ctx context.Context) error { _, err := f.svc.DeactivateConnection(ctx, c.ID); return err },
			"rotate":     func(ctx context.Context) error { _, err := f.svc.RotateConnectionKey(ctx, c.ID); return err },
			"retire": func(ctx context.Context) error {
				_, err := f.svc.RetireConnectionKey(ctx, c.ID, c.SpKeys[0].ID)
				return err
			},
			"delete":   func(ctx context.Context) error { return f.svc.DeleteConnection(ctx, c.ID) },
			"attempts": func(ctx context.Context) error { _, err := f.svc.LoginAttempts(ctx, c); return err },
		}
		beta := viewer.NewContext(context.Background(), viewer.ScopedTo("key_beta", f.beta.ID))
		member := as(f.acme.ID, "organization:read", "members:read")
		for name, op := range ops {
			if err := op(beta); !errors.Is(err, tenants.ErrNotFound) {
				t.Errorf("%s by another organization: %v, want ErrNotFound", name, err)
			}
			if err := op(member); !errors.Is(err, tenants.ErrForbidden) {
				t.Errorf("%s by a member without connections:manage: %v, want ErrForbidden", name, err)
			}
			if err := op(context.Background()); err == nil {
				t.Errorf("%s without a viewer succeeded", name)
			}
		}
		if _, err := f.svc.CreateSAMLConnection(beta, tenants.CreateSAMLConnectionInput{OrganizationID: f.acme.ID, Name: "x"}); !errors.Is(err, tenants.ErrNotFound) {
			t.Errorf("create in another organization: %v, want ErrNotFound", err)
		}
		if _, err := f.svc.CreateOIDCConnection(member, tenants.CreateOIDCConnectionInput{OrganizationID: f.acme.ID, Name: "x"}); !errors.Is(err, tenants.ErrForbidden) {
			t.Errorf("create by a member: %v, want ErrForbidden", err)
		}
		got := f.client.Connection.GetX(f.sys, c.ID)
		if got.Name != "Okta" || got.State != connection.StateDRAFT || len(got.SpKeys) != 1 {
			t.Errorf("connection changed by refused calls: %+v", got)
		}
		if got := actions(t, f, c.ID); len(got) != 1 {
			t.Errorf("audit trail %v, want only the create", got)
		}
	})
}

// TestResealConnectionSecrets: after a master-key rotation, every SP key
// and client secret is re-sealed once under the new key (a second run
// changes nothing) and opens with the new key alone.
func TestResealConnectionSecrets(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		f := newConnFixture(t, db)
		saml, err := f.svc.CreateSAMLConnection(f.admin, tenants.CreateSAMLConnectionInput{OrganizationID: f.acme.ID, Name: "Okta"})
		must(t, err)
		_, err = f.svc.RotateConnectionKey(f.admin, saml.ID)
		must(t, err)
		_, err = f.svc.CreateOIDCConnection(f.admin, tenants.CreateOIDCConnectionInput{OrganizationID: f.acme.ID, Name: "Entra", ClientSecret: "shh"})
		must(t, err)
		_, err = f.svc.CreateOIDCConnection(f.admin, tenants.CreateOIDCConnectionInput{OrganizationID: f.acme.ID, Name: "No secret"})
		must(t, err)

		oldKey, newKey := make([]byte, seal.KeySize), make([]byte, seal.KeySize)
		oldKey[0], newKey[0] = 9, 10 // newConnFixture's key, and the next one
		rotating := tenants.NewService(f.client, tenants.WithSealer(must1(seal.New(newKey, oldKey))))
		for run, want := range []int{2, 0} {
			if n, err := rotating.ResealConnectionSecrets(f.sys); err != nil || n != want {
				t.Fatalf("run %d: re-sealed %d connections (%v), want %d", run+1, n, err, want)
			}
		}
		after := tenants.NewService(f.client, tenants.WithSealer(must1(seal.New(newKey))))
		for _, c := range f.client.Connection.Query().AllX(f.sys) {
			if c.Protocol == connection.ProtocolSAML {
				if keys, err := after.ConnectionSAMLKeys(f.sys, c); err != nil || len(keys) != 2 {
					t.Errorf("SP keys under the new master key alone: %d, %v", len(keys), err)
				}
			} else if s, err := after.ConnectionOIDCClientSecret(f.sys, c); err != nil || (c.Name == "Entra") != (s == "shh") {
				t.Errorf("%s's client secret under the new master key alone: %q, %v", c.Name, s, err)
			}
		}
	})
}
