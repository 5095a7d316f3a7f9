package tenants

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/schema/sso"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// The secrets a connection keeps, sealed with the master key: its SAML
// SP's private keys and its OIDC client secret. Each is sealed with
// associated data naming its connection (and key), so a sealed value
// copied to another row does not open.

const (
	spKeyBits = 2048
	// spCertLifetime is how long an SP certificate says it is valid. IdPs
	// mostly ignore it; a rotation, not expiry, replaces SP keys.
	spCertLifetime = 10 * 365 * 24 * time.Hour
	// maxSPKeys bounds the keys a connection publishes at once: the one
	// signing and the ones still trusted during a rollover.
	maxSPKeys = 3
)

// SPKeyPair is one of a connection's SAML SP key pairs, unsealed: what
// federation/saml's KeyPair takes. The first of a connection's pairs
// signs; all are published in the SP metadata.
type SPKeyPair struct {
	ID          string
	PrivateKey  *rsa.PrivateKey
	Certificate *x509.Certificate
	CreatedAt   time.Time
}

func spKeyAD(conn pulid.ID, keyID string) []byte {
	return []byte("gatehouse saml sp key\x00" + string(conn) + "\x00" + keyID)
}

func clientSecretAD(conn pulid.ID) []byte {
	return []byte("gatehouse oidc client secret\x00" + string(conn))
}

// newSPKey makes an RSA-2048 key pair for connection conn with a
// self-signed certificate, the private key sealed.
func (s *Service) newSPKey(conn pulid.ID) (sso.SPKey, error) {
	if s.sealer == nil {
		return sso.SPKey{}, fmt.Errorf("seal SAML SP key: %w", ErrNoSealer)
	}
	key, err := rsa.GenerateKey(rand.Reader, spKeyBits)
	if err != nil {
		return sso.SPKey{}, fmt.Errorf("generate SAML SP key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return sso.SPKey{}, fmt.Errorf("generate certificate serial: %w", err)
	}
	now := s.now().UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Gatehouse SAML SP " + string(conn)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(spCertLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return sso.SPKey{}, fmt.Errorf("self-sign SAML SP certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return sso.SPKey{}, fmt.Errorf("encode SAML SP key: %w", err)
	}
	id := "spk_" + secret.Token(9)
	sealed, err := s.sealer.Seal(pkcs8, spKeyAD(conn, id))
	if err != nil {
		return sso.SPKey{}, fmt.Errorf("seal SAML SP key: %w", err)
	}
	return sso.SPKey{ID: id, Certificate: der, SealedKey: sealed, CreatedAt: now}, nil
}

// ConnectionSPCertificates returns c's SP certificates, the signing one
// first: public, for the SP metadata. It unseals nothing.
func ConnectionSPCertificates(c *ent.Connection) ([]*x509.Certificate, error) {
	out := make([]*x509.Certificate, 0, len(c.SpKeys))
	for _, k := range c.SpKeys {
		cert, err := x509.ParseCertificate(k.Certificate)
		if err != nil {
			return nil, fmt.Errorf("parse SP certificate %s of %s: %w", k.ID, c.ID, err)
		}
		out = append(out, cert)
	}
	return out, nil
}

// ConnectionSAMLKeys unseals c's SP key pairs, the signing one first, for
// the integrator to build c's SAML connector. c must be loaded whole (as
// every query loads it).
func (s *Service) ConnectionSAMLKeys(_ context.Context, c *ent.Connection) ([]SPKeyPair, error) {
	if c.Protocol != connection.ProtocolSAML {
		return nil, fmt.Errorf("connection %s is not a SAML connection", c.ID)
	}
	if s.sealer == nil {
		return nil, fmt.Errorf("open SAML SP keys: %w", ErrNoSealer)
	}
	out := make([]SPKeyPair, 0, len(c.SpKeys))
	for _, k := range c.SpKeys {
		raw, err := s.sealer.Open(k.SealedKey, spKeyAD(c.ID, k.ID))
		if err != nil {
			return nil, fmt.Errorf("open SP key %s of %s: %w", k.ID, c.ID, err)
		}
		parsed, err := x509.ParsePKCS8PrivateKey(raw)
		if err != nil {
			return nil, fmt.Errorf("parse SP key %s of %s: %w", k.ID, c.ID, err)
		}
		key, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("SP key %s of %s is not RSA", k.ID, c.ID)
		}
		cert, err := x509.ParseCertificate(k.Certificate)
		if err != nil {
			return nil, fmt.Errorf("parse SP certificate %s of %s: %w", k.ID, c.ID, err)
		}
		out = append(out, SPKeyPair{ID: k.ID, PrivateKey: key, Certificate: cert, CreatedAt: k.CreatedAt})
	}
	return out, nil
}

// ConnectionOIDCClientSecret unseals c's client secret, for the
// integrator to build c's OIDC connector; "" when none is set.
func (s *Service) ConnectionOIDCClientSecret(_ context.Context, c *ent.Connection) (string, error) {
	if c.Protocol != connection.ProtocolOIDC {
		return "", fmt.Errorf("connection %s is not an OIDC connection", c.ID)
	}
	if len(c.OidcClientSecretSealed) == 0 {
		return "", nil
	}
	if s.sealer == nil {
		return "", fmt.Errorf("open OIDC client secret: %w", ErrNoSealer)
	}
	raw, err := s.sealer.Open(c.OidcClientSecretSealed, clientSecretAD(c.ID))
	if err != nil {
		return "", fmt.Errorf("open OIDC client secret of %s: %w", c.ID, err)
	}
	return string(raw), nil
}

func (s *Service) sealClientSecret(conn pulid.ID, secret string) ([]byte, error) {
	if len(secret) > 1024 || strings.ContainsFunc(secret, isControl) {
		return nil, invalid("clientSecret", "must be at most 1024 characters without control characters")
	}
	if s.sealer == nil {
		return nil, fmt.Errorf("seal OIDC client secret: %w", ErrNoSealer)
	}
	sealed, err := s.sealer.Seal([]byte(secret), clientSecretAD(conn))
	if err != nil {
		return nil, fmt.Errorf("seal OIDC client secret: %w", err)
	}
	return sealed, nil
}

// RotateConnectionKey adds a new SP key pair in front of a SAML
// connection's keys: it signs from now on, and the old ones stay
// published (so the IdP can still verify what they signed and trusts the
// new one once it reloads the metadata) until RetireConnectionKey. At
// most 3 keys at once.
func (s *Service) RotateConnectionKey(ctx context.Context, id pulid.ID) (*ent.Connection, error) {
	var key sso.SPKey
	return s.changeConnection(ctx, id, func(tx *ent.Tx, c *ent.Connection) (*ent.Connection, event, error) {
		if c.Protocol != connection.ProtocolSAML {
			return nil, event{}, invalid("id", "only SAML connections have SP keys")
		}
		if len(c.SpKeys) >= maxSPKeys {
			return nil, event{}, invalid("id", "the connection has %d keys already: retire an old one first", len(c.SpKeys))
		}
		var err error
		if key, err = s.newSPKey(c.ID); err != nil {
			return nil, event{}, err
		}
		keys := append([]sso.SPKey{key}, c.SpKeys...)
		updated, err := tx.Connection.UpdateOne(c).SetSpKeys(keys).Save(viewer.SystemContext(ctx))
		if err != nil {
			return nil, event{}, translate(err, "connection")
		}
		return updated, connectionEvent("connection.key.rotate", c, map[string]any{"spKeyID": key.ID}), nil
	})
}

// RetireConnectionKey stops publishing one of a SAML connection's older
// SP keys. The signing (first) key cannot be retired: rotate first.
func (s *Service) RetireConnectionKey(ctx context.Context, id pulid.ID, keyID string) (*ent.Connection, error) {
	return s.changeConnection(ctx, id, func(tx *ent.Tx, c *ent.Connection) (*ent.Connection, event, error) {
		if c.Protocol != connection.ProtocolSAML {
			return nil, event{}, invalid("id", "only SAML connections have SP keys")
		}
		at := -1
		for i, k := range c.SpKeys {
			if k.ID == keyID {
				at = i
			}
		}
		switch {
		case at < 0:
			return nil, event{}, invalid("keyID", "is not a key of this connection")
		case at == 0:
			return nil, event{}, invalid("keyID", "is the signing key: rotate first, then retire it")
		}
		keys := append(append([]sso.SPKey{}, c.SpKeys[:at]...), c.SpKeys[at+1:]...)
		updated, err := tx.Connection.UpdateOne(c).SetSpKeys(keys).Save(viewer.SystemContext(ctx))
		if err != nil {
			return nil, event{}, translate(err, "connection")
		}
		return updated, connectionEvent("connection.key.retire", c, map[string]any{"spKeyID": keyID}), nil
	})
}

// decodeBase64Loose decodes standard base64 with any whitespace in it, as
// certificates are wrapped in metadata and pasted by people.
func decodeBase64Loose(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	return base64.StdEncoding.DecodeString(s)
}

// ResealConnectionSecrets re-seals every connection's SP private keys
// and OIDC client secret that an older master key sealed under the
// current one (gatehouse keys rotate-master), one transaction per
// connection with its row written first, so two nodes running it at once
// re-seal each value once. It returns how many connections changed.
func (s *Service) ResealConnectionSecrets(ctx context.Context) (int, error) {
	if s.sealer == nil {
		return 0, fmt.Errorf("re-seal connection secrets: %w", ErrNoSealer)
	}
	sys := viewer.SystemContext(ctx)
	ids, err := s.client.Connection.Query().Order(ent.Asc(connection.FieldID)).IDs(sys)
	if err != nil {
		return 0, fmt.Errorf("list connections: %w", err)
	}
	changed := 0
	for _, id := range ids {
		err := s.inTx(sys, func(tx *ent.Tx) error {
			if err := tx.Connection.UpdateOneID(id).SetUpdatedAt(s.now()).Exec(sys); err != nil {
				return translate(err, "connection")
			}
			c, err := tx.Connection.Get(sys, id)
			if err != nil {
				return translate(err, "connection")
			}
			dirty := false
			keys := append([]sso.SPKey(nil), c.SpKeys...)
			for i, k := range keys {
				out, resealed, err := s.sealer.Reseal(k.SealedKey, spKeyAD(c.ID, k.ID))
				if err != nil {
					return fmt.Errorf("re-seal SP key %s of %s: %w", k.ID, c.ID, err)
				}
				if resealed {
					keys[i].SealedKey, dirty = out, true
				}
			}
			upd := tx.Connection.UpdateOne(c).SetSpKeys(keys)
			if len(c.OidcClientSecretSealed) > 0 {
				out, resealed, err := s.sealer.Reseal(c.OidcClientSecretSealed, clientSecretAD(c.ID))
				if err != nil {
					return fmt.Errorf("re-seal client secret of %s: %w", c.ID, err)
				}
				if resealed {
					upd.SetOidcClientSecretSealed(out)
					dirty = true
				}
			}
			if !dirty {
				return nil
			}
			if err := upd.Exec(sys); err != nil {
				return translate(err, "connection")
			}
			changed++
			return nil
		})
		if err != nil && !errors.Is(err, ErrNotFound) { // deleted meanwhile: nothing to re-seal
			return changed, err
		}
	}
	return changed, nil
}
