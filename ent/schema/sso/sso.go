// Package sso is the shape in which a connection stores its protocol
// settings that are more than one column: the attribute mapping, the
// group → role mappings and the SAML service provider's key pairs. It
// lives beside the schema so that the generated ent code can name it
// without importing the domain; tenants gives it meaning.
package sso

import (
	"time"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
)

// AttributeMapping names the upstream attributes (SAML attribute names or
// OIDC claims) that carry each part of a user's profile. An empty name
// means the preset's default (or, for email, the SAML NameID or the
// OIDC email claim).
type AttributeMapping struct {
	Email     string `json:"email,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Name      string `json:"name,omitempty"`
	Groups    string `json:"groups,omitempty"`
	// Custom maps a key of the user's metadata to the upstream attribute
	// whose value it takes.
	Custom map[string]string `json:"custom,omitempty"`
}

// GroupRole gives the members of an upstream group a role of the
// connection's organization.
type GroupRole struct {
	Group  string   `json:"group"`
	RoleID pulid.ID `json:"role_id"`
}

// SPKey is one of the SAML service provider's RSA key pairs: the
// self-signed certificate (DER), published in the SP metadata, and the
// PKCS #8 private key sealed with the master key (internal/seal; the
// associated data names the connection and the key). The first key of a
// connection signs; every key is published, so the IdP trusts a new key
// before it is used and an old one until it is retired.
type SPKey struct {
	ID          string    `json:"id"`
	Certificate []byte    `json:"certificate"`
	SealedKey   []byte    `json:"sealed_key"`
	CreatedAt   time.Time `json:"created_at"`
}
