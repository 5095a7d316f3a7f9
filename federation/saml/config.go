package saml

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/crewjam/saml"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/federation"
)

// The two bindings Begin can send an AuthnRequest with (SAML Bindings §3.4,
// §3.5). Responses come back by HTTP-POST only.
const (
	BindingRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	BindingPOST     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
)

// MaxClockSkew is the most clock difference with the IdP Config accepts,
// and the default.
const MaxClockSkew = 2 * time.Minute

// KeyPair is one SP key with its certificate: the pair that signs
// AuthnRequests and that IdPs encrypt assertions to.
type KeyPair struct {
	Key         *rsa.PrivateKey
	Certificate *x509.Certificate
}

// IdP is what the SP trusts about the organization's identity provider,
// usually read from its metadata (ParseIdPMetadata).
type IdP struct {
	EntityID string
	// SSOURL is the SingleSignOnService location for Binding.
	SSOURL string
	// Binding is BindingRedirect or BindingPOST.
	Binding string
	// Certificates are the IdP's signing certificates, all trusted (the
	// IdP's own rollover publishes the next one early). They are the only
	// trust anchors: a certificate in a signature's KeyInfo adds none.
	Certificates []*x509.Certificate
}

// ReplayCache records an assertion id until it expires. Remember returns
// fresh=false when the id was already recorded for the connection; it must
// be atomic across every node that serves the ACS. An error refuses the
// assertion (fail closed).
type ReplayCache interface {
	Remember(ctx context.Context, connectionID, assertionID string, notOnOrAfter time.Time) (fresh bool, err error)
}

// Config is one connection's SP settings.
type Config struct {
	ConnectionID pulid.ID
	// SPEntityID is this connection's SP entity id (the audience the IdP
	// must name); ACSURL is where the IdP posts (Destination, Recipient);
	// MetadataURL is where the SP metadata is published. All per
	// connection, so that an assertion for one connection is no good at
	// another (SAML-15).
	SPEntityID, ACSURL, MetadataURL string
	// Keys: the first signs AuthnRequests; all are published in the SP
	// metadata and tried for decryption, so that a rotation can overlap.
	Keys []KeyPair
	IdP  IdP
	// AllowIdPInitiated accepts unsolicited responses (Finish with no
	// state). Off by default: such a response is bound to no browser.
	AllowIdPInitiated bool
	// AllowUnsignedAssertion accepts a signed Response around an unsigned
	// Assertion. Off by default: the Assertion must carry its own
	// signature (SECURITY-CHECKLIST SAML-04), as the SP metadata asks
	// (WantAssertionsSigned); turn it on for an IdP that can only sign
	// the Response.
	AllowUnsignedAssertion bool
	Mapping                AttributeMapping
	// Replay is required: it makes each assertion single use.
	Replay ReplayCache
	// Now is the clock every time check reads; nil means time.Now.
	Now func() time.Time
	// MaxClockSkew is the allowance for the IdP's clock in every time
	// window; zero means MaxClockSkew, more than it is refused.
	MaxClockSkew time.Duration
}

// Connector is the SAML service provider of one connection. It is safe
// for concurrent use and holds no per-request state.
type Connector struct {
	cfg  Config
	skew time.Duration
	// sp is crewjam's view of the connection, copied per call
	// (serviceProvider); acs is Config.ACSURL parsed; mapped are the
	// attribute names the mapping reads (AttributeMapping.names).
	sp     *saml.ServiceProvider
	acs    url.URL
	mapped map[string]bool
	// trust verifies signatures on this package's own path (verify.go).
	trust *trust
}

var _ federation.Connector = (*Connector)(nil)

// New checks cfg and returns its connector.
func New(cfg Config) (*Connector, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if cfg.ConnectionID == "" {
		bad("ConnectionID is required")
	}
	if cfg.SPEntityID == "" {
		bad("SPEntityID is required")
	}
	if err := checkAbsoluteURL(cfg.ACSURL); err != nil {
		bad("ACSURL: %v", err)
	}
	if cfg.MetadataURL != "" {
		if err := checkAbsoluteURL(cfg.MetadataURL); err != nil {
			bad("MetadataURL: %v", err)
		}
	}
	if len(cfg.Keys) == 0 {
		bad("at least one SP key is required")
	}
	for i, k := range cfg.Keys {
		switch {
		case k.Key == nil || k.Certificate == nil:
			bad("Keys[%d]: key and certificate are both required", i)
		case !k.Key.PublicKey.Equal(k.Certificate.PublicKey):
			bad("Keys[%d]: the certificate is not the key's", i)
		case k.Key.N.BitLen() < 2048:
			bad("Keys[%d]: RSA key of %d bits, want at least 2048", i, k.Key.N.BitLen())
		}
	}
	if cfg.IdP.EntityID == "" {
		bad("IdP.EntityID is required")
	}
	if err := checkAbsoluteURL(cfg.IdP.SSOURL); err != nil {
		bad("IdP.SSOURL: %v", err)
	}
	if cfg.IdP.Binding != BindingRedirect && cfg.IdP.Binding != BindingPOST {
		bad("IdP.Binding %q is neither HTTP-Redirect nor HTTP-POST", cfg.IdP.Binding)
	}
	if len(cfg.IdP.Certificates) == 0 {
		bad("the IdP needs at least one signing certificate")
	}
	for i, c := range cfg.IdP.Certificates {
		if c == nil {
			bad("IdP.Certificates[%d] is nil", i)
		}
	}
	if cfg.Replay == nil {
		bad("Replay is required: assertions must be single use (SAML-07)")
	}
	if cfg.MaxClockSkew < 0 || cfg.MaxClockSkew > MaxClockSkew {
		bad("MaxClockSkew %v is outside 0..%v", cfg.MaxClockSkew, MaxClockSkew)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("saml: connection %s: %w", cfg.ConnectionID, errors.Join(errs...))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Connector{cfg: cfg, skew: cfg.MaxClockSkew}
	if c.skew == 0 {
		c.skew = MaxClockSkew
	}
	acs, _ := url.Parse(cfg.ACSURL) // checked above
	c.acs = *acs
	c.mapped = cfg.Mapping.names()
	c.sp = c.newServiceProvider()
	c.trust = newTrust(cfg.IdP.Certificates)
	return c, nil
}

func checkAbsoluteURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}
