package tenants

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/apikey"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/internal/secret"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// API keys look like gh_<prefix>_<secret>: the prefix (16 characters) is
// public and stored in clear for lookup; the whole key is stored as SHA-256.
const (
	apiKeyScheme    = "gh_"
	apiKeyPrefixLen = 16
	// OrgScopePrefix starts a scope that limits a key to one organization.
	OrgScopePrefix = "org:"
	// lastUsedResolution bounds how often authentication writes last_used_at.
	lastUsedResolution = time.Minute
)

// CreateAPIKeyInput creates an API key. Scopes: none for an instance-wide
// key, or exactly one org:<organization id>.
type CreateAPIKeyInput struct {
	Name   string
	Scopes []string
}

// parseScopes returns the organization a scope list limits a key to, if any.
func parseScopes(scopes []string) (pulid.ID, error) {
	var org pulid.ID
	for _, s := range scopes {
		id, ok := strings.CutPrefix(s, OrgScopePrefix)
		if !ok {
			return "", invalid("scopes", "unknown scope %q; use org:<organization id>", s)
		}
		if !pulid.ID(id).Valid() || pulid.ID(id).Prefix() != "org" {
			return "", invalid("scopes", "%q does not name an organization id", s)
		}
		if org != "" && org != pulid.ID(id) {
			return "", invalid("scopes", "a key may be scoped to one organization")
		}
		org = pulid.ID(id)
	}
	return org, nil
}

// CreateAPIKey creates an API key and returns it with its secret, which is
// never shown again. A viewer may only create keys within its own reach:
// an organization-scoped viewer creates keys for an organization where it
// holds apikeys:manage. A key minted on behalf of a user (through an admin
// token, or a key that user minted) records the user: it acts with the
// user's permissions of the moment and stops working when the user loses
// apikeys:manage there (demotion, removal, a disabled account).
func (s *Service) CreateAPIKey(ctx context.Context, in CreateAPIKeyInput) (*ent.APIKey, string, error) {
	if err := checkName("name", in.Name, 200); err != nil {
		return nil, "", err
	}
	org, err := parseScopes(in.Scopes)
	if err != nil {
		return nil, "", err
	}
	v := viewer.FromContext(ctx)
	if scoped(ctx) {
		if org == "" {
			return nil, "", &ForbiddenError{Field: "scopes", Reason: "an organization-scoped caller mints keys scoped to its organization (org:<id>)"}
		}
		if err := require(ctx, org, authz.APIKeysManage); err != nil {
			return nil, "", err
		}
	}
	prefix := secret.Token(10)[:apiKeyPrefixLen]
	key := apiKeyScheme + prefix + "_" + secret.Token(32)
	var k *ent.APIKey
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		c := tx.APIKey.Create().SetName(in.Name).SetPrefix(prefix).
			SetSecretHash(secret.Hash(key)).SetScopes(uniqueStrings(in.Scopes))
		if v != nil && v.Kind == viewer.Organization && v.OnBehalfOf != "" {
			c.SetCreatedBy(v.OnBehalfOf)
		}
		if org != "" {
			if _, err := tx.Organization.Get(ctx, org); err != nil {
				return translate(err, "organization")
			}
			c.SetOrganizationID(org)
		}
		var err error
		if k, err = c.Save(ctx); err != nil {
			return translate(err, "api key")
		}
		return s.audit(ctx, tx, event{action: "apikey.create", org: org, targetType: "APIKey", targetID: k.ID,
			metadata: map[string]any{"name": k.Name, "prefix": k.Prefix}})
	})
	if err != nil {
		return nil, "", err
	}
	return k.Unwrap(), key, nil
}

// RevokeAPIKey revokes a key; it stops authenticating at once.
func (s *Service) RevokeAPIKey(ctx context.Context, id pulid.ID) (*ent.APIKey, error) {
	var k *ent.APIKey
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		cur, err := tx.APIKey.Get(ctx, id)
		if err != nil {
			return translate(err, "api key")
		}
		if scoped(ctx) {
			if err := require(ctx, cur.OrganizationID, authz.APIKeysManage); err != nil {
				return err
			}
		}
		if cur.RevokedAt != nil {
			k = cur
			return nil
		}
		if k, err = cur.Update().SetRevokedAt(s.now()).Save(ctx); err != nil {
			return translate(err, "api key")
		}
		return s.audit(ctx, tx, event{action: "apikey.revoke", org: k.OrganizationID,
			targetType: "APIKey", targetID: k.ID})
	})
	return unwrap(k, err)
}

// LooksLikeAPIKey reports whether a bearer credential has the form of an
// API key rather than of an access token.
func LooksLikeAPIKey(credential string) bool { return strings.HasPrefix(credential, apiKeyScheme) }

// AuthenticateAPIKey returns the viewer a key acts as. Every failure —
// malformed, unknown, wrong secret, revoked — is ErrUnauthenticated, so a
// caller learns nothing about which keys exist.
func (s *Service) AuthenticateAPIKey(ctx context.Context, key string) (*viewer.Viewer, error) {
	rest, ok := strings.CutPrefix(key, apiKeyScheme)
	if !ok || len(rest) < apiKeyPrefixLen+2 || rest[apiKeyPrefixLen] != '_' {
		return nil, ErrUnauthenticated
	}
	sys := viewer.SystemContext(ctx)
	k, err := s.client.APIKey.Query().Where(apikey.Prefix(rest[:apiKeyPrefixLen])).Only(sys)
	switch {
	case ent.IsNotFound(err):
		secret.Matches(secret.Hash(""), key) // same work as a known prefix
		return nil, ErrUnauthenticated
	case err != nil:
		return nil, fmt.Errorf("look up api key: %w", err)
	}
	if !secret.Matches(k.SecretHash, key) || k.RevokedAt != nil {
		return nil, ErrUnauthenticated
	}
	now := s.now()
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > lastUsedResolution {
		// Best effort: a failed timestamp must not fail the request.
		_ = s.client.APIKey.Update().Where(apikey.ID(k.ID)).SetLastUsedAt(now).Exec(sys)
	}
	switch {
	case k.OrganizationID == "":
		return &viewer.Viewer{Kind: viewer.Instance, Actor: string(k.ID)}, nil
	case k.CreatedBy == "":
		return viewer.ScopedTo(string(k.ID), k.OrganizationID), nil
	}
	// Minted by a user: bounded by what the user may do now.
	perms, err := memberPermissions(ctx, s.client, k.CreatedBy, k.OrganizationID)
	if err != nil {
		return nil, err
	}
	if !authz.Covers(perms[k.OrganizationID], []string{authz.APIKeysManage}) {
		return nil, ErrUnauthenticated
	}
	v := organizationViewer(string(k.ID), k.CreatedBy, perms)
	v.UserID = "" // the key is not the user signed in: the viewer query stays null
	return v, nil
}
