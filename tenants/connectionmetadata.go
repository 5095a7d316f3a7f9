package tenants

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// An IdP rolls its signing certificate on its own schedule and publishes
// the new one in its metadata first; a SAML connection created from a
// metadata URL (idp_metadata_url) follows it by fetching that URL again
// now and then (idp_metadata_refreshed_at), so a rollover at the IdP does
// not lock the organization out.

// DefaultMetadataRefresh is how old a connection's last metadata refresh
// may get before RefreshConnectionMetadata fetches it again.
const DefaultMetadataRefresh = 24 * time.Hour

// metadataRefreshBatch bounds the connections one pass fetches.
const metadataRefreshBatch = 100

// metadataRetryFirst is how long a connection waits after the first
// failed refresh of a streak; each further failure doubles the wait, up
// to the refresh interval (metadataBackoff).
const metadataRetryFirst = 5 * time.Minute

// metadataBackoff is the wait after the n-th failed refresh in a row
// (n ≥ 1): metadataRetryFirst doubled n-1 times, at most every (the
// refresh interval), so a URL that fails for days is still tried at
// least as often as a working one is refreshed.
func metadataBackoff(n int, every time.Duration) time.Duration {
	d := metadataRetryFirst
	for i := 1; i < n && d < every; i++ {
		d *= 2
	}
	return min(d, every)
}

// WithMetadataRefresh sets how often a SAML connection's metadata URL is
// fetched again (GATEHOUSE_SAML_METADATA_REFRESH). Defaults to
// DefaultMetadataRefresh.
func WithMetadataRefresh(every time.Duration) Option {
	return func(s *Service) {
		if every > 0 {
			s.metadataRefresh = every
		}
	}
}

// MetadataFetch fetches and parses the IdP metadata at url
// (federation/connectors.ParseSAMLMetadata, through internal/safehttp).
type MetadataFetch func(ctx context.Context, url string) (SAMLIdP, error)

// MetadataRefreshReport is what one RefreshConnectionMetadata pass did.
type MetadataRefreshReport struct {
	// Checked connections were fetched; Changed of them took new IdP
	// settings; Failed could not be fetched or read (nothing changed).
	Checked, Changed, Failed int
	// More is set when the pass fetched a full batch: more may be due.
	More bool
}

// RefreshConnectionMetadata fetches again the metadata of the SAML
// connections that have a metadata URL and whose last refresh is older
// than the refresh interval (never-refreshed ones, then the oldest, first;
// at most a batch), except those waiting out a failure (retry_at). What changed of the IdP's entity id, SSO URL and
// binding, and certificates is stored (audited as
// connection.metadata_refreshed with the fields that changed; the
// connection's updated_at moves, so federation/connectors builds its
// connector anew); nothing changed stores only the time. A fetch that
// fails, or metadata that lacks an entity id, an SSO URL or a certificate
// or does not pass the rules an administrator's input does, changes
// nothing of the IdP: an outage or a broken document at the IdP must
// never clear a connection's certificates. It is kept on the connection
// for its administrator (idp_metadata_error, idp_metadata_failures,
// visible over GraphQL), audited as connection.metadata_refresh_failed
// once per streak of failures (the first), and retried after a capped
// exponential backoff (metadataBackoff: 5 minutes, doubling, at most the
// refresh interval); the next refresh that works ends the streak. Instance-level: System or Instance viewers
// only. cmd runs it on a ticker on every node: a pass that finds the
// connection refreshed meanwhile by another leaves it.
func (s *Service) RefreshConnectionMetadata(ctx context.Context, now time.Time, fetch MetadataFetch) (MetadataRefreshReport, error) {
	var rep MetadataRefreshReport
	if v := viewer.FromContext(ctx); v == nil || !v.Unrestricted() {
		return rep, fmt.Errorf("refresh connection metadata: %w", ErrForbidden)
	}
	cutoff := now.Add(-s.metadataRefresh)
	due, err := s.client.Connection.Query().
		Where(connection.ProtocolEQ(connection.ProtocolSAML), connection.IdpMetadataURLNEQ(""),
			connection.Or(connection.IdpMetadataRefreshedAtIsNil(), connection.IdpMetadataRefreshedAtLTE(cutoff)),
			connection.Or(connection.IdpMetadataRetryAtIsNil(), connection.IdpMetadataRetryAtLTE(now))).
		Order(connection.ByIdpMetadataRefreshedAt(sql.OrderNullsFirst()), connection.ByID()).
		Limit(metadataRefreshBatch).All(ctx)
	if err != nil {
		return rep, fmt.Errorf("find connections to refresh: %w", err)
	}
	rep.More = len(due) == metadataRefreshBatch
	for _, c := range due {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.Checked++
		idp, err := fetch(ctx, c.IdpMetadataURL)
		if err == nil {
			idp, err = s.checkRefreshedIdP(idp)
		}
		if err != nil {
			rep.Failed++
			s.logger().WarnContext(ctx, "connection metadata refresh failed", "connection", c.ID, "url", c.IdpMetadataURL, "err", err)
			if err := s.metadataRefreshFailed(ctx, c, err, now); err != nil {
				return rep, err
			}
			continue
		}
		changed, err := s.storeRefreshedIdP(ctx, c, idp, now)
		if err != nil {
			return rep, fmt.Errorf("refresh connection %s: %w", c.ID, err)
		}
		if len(changed) > 0 {
			rep.Changed++
		}
	}
	return rep, nil
}

// checkRefreshedIdP holds fetched metadata to what an administrator's
// input must be (checkSAMLIdP), and to a complete IdP: a document that
// lost its certificate is broken, not a reason to trust nothing.
func (s *Service) checkRefreshedIdP(idp SAMLIdP) (SAMLIdP, error) {
	idp, err := s.checkSAMLIdP(idp)
	switch {
	case err != nil:
		return idp, err
	case idp.EntityID == "":
		return idp, errors.New("the metadata names no entity id")
	case idp.SSOURL == "":
		return idp, errors.New("the metadata names no single sign-on service")
	case len(idp.Certificates) == 0:
		return idp, errors.New("the metadata lists no signing certificate")
	}
	return idp, nil
}

// storeRefreshedIdP stores idp as c's IdP and the refresh time, unless
// another pass refreshed c since it was read, and returns the fields that
// changed (audited when there are any).
func (s *Service) storeRefreshedIdP(ctx context.Context, c *ent.Connection, idp SAMLIdP, now time.Time) ([]string, error) {
	var changed []string
	if idp.EntityID != c.IdpEntityID {
		changed = append(changed, "idpEntityID")
	}
	if idp.SSOURL != c.IdpSSOURL {
		changed = append(changed, "ssoURL")
	}
	if idp.SSOBinding != c.IdpSSOBinding {
		changed = append(changed, "ssoBinding")
	}
	if !sameSet(idp.Certificates, c.IdpCertificates) {
		changed = append(changed, "certificates")
	}
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		upd := tx.Connection.Update().Where(connection.ID(c.ID), connection.IdpMetadataURL(c.IdpMetadataURL)).
			SetIdpMetadataRefreshedAt(now)
		if c.IdpMetadataRefreshedAt == nil {
			upd.Where(connection.IdpMetadataRefreshedAtIsNil())
		} else {
			upd.Where(connection.IdpMetadataRefreshedAt(*c.IdpMetadataRefreshedAt))
		}
		if c.IdpMetadataFailures > 0 || c.IdpMetadataRetryAt != nil || c.IdpMetadataError != "" {
			upd.SetIdpMetadataFailures(0).ClearIdpMetadataRetryAt().SetIdpMetadataError("") // the streak ends
		}
		if len(changed) > 0 {
			upd.SetIdpEntityID(idp.EntityID).SetIdpSSOURL(idp.SSOURL).SetIdpSSOBinding(idp.SSOBinding).
				SetIdpCertificates(idp.Certificates).SetUpdatedAt(now)
		}
		n, err := upd.Save(ctx)
		if err != nil {
			return translate(err, "connection")
		}
		if n == 0 || len(changed) == 0 {
			changed = nil // refreshed meanwhile (or changed by its administrator), or nothing new
			return nil
		}
		return s.audit(ctx, tx, connectionEvent("connection.metadata_refreshed", c,
			map[string]any{"changed": changed, "metadataURL": c.IdpMetadataURL}))
	})
	return changed, err
}

// metadataRefreshFailed records a refresh of c that failed: one more
// failure in a row, the reason for its administrator, and when to try
// again (metadataBackoff), unless another pass or its administrator
// changed c since it was read; the first failure of a streak is audited.
func (s *Service) metadataRefreshFailed(ctx context.Context, c *ent.Connection, cause error, now time.Time) error {
	reason := truncate(cause.Error(), 512)
	n := c.IdpMetadataFailures + 1
	return s.inTx(ctx, func(tx *ent.Tx) error {
		upd := tx.Connection.Update().Where(connection.ID(c.ID), connection.IdpMetadataURL(c.IdpMetadataURL),
			connection.IdpMetadataFailures(c.IdpMetadataFailures)).
			SetIdpMetadataFailures(n).SetIdpMetadataRetryAt(now.Add(metadataBackoff(n, s.metadataRefresh))).
			SetIdpMetadataError(reason)
		if c.IdpMetadataRetryAt == nil {
			upd.Where(connection.IdpMetadataRetryAtIsNil())
		} else {
			upd.Where(connection.IdpMetadataRetryAt(*c.IdpMetadataRetryAt))
		}
		changed, err := upd.Save(ctx)
		if err != nil {
			return translate(err, "connection")
		}
		if changed == 0 || n > 1 {
			return nil // recorded by another pass meanwhile, or not the streak's first
		}
		return s.audit(ctx, tx, connectionEvent("connection.metadata_refresh_failed", c,
			map[string]any{"reason": reason, "metadataURL": c.IdpMetadataURL}))
	})
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// RunMetadataRefresh refreshes due connections' metadata now and then
// every period (RefreshConnectionMetadata as the system, pass after pass
// while a pass finds a full batch), until ctx is done. A failed pass is
// logged and retried at the next tick. cmd runs it on every node.
func (s *Service) RunMetadataRefresh(ctx context.Context, every time.Duration, fetch MetadataFetch) {
	s.runPasses(ctx, every, "connection metadata refresh", func(sys context.Context) (bool, error) {
		rep, err := s.RefreshConnectionMetadata(sys, s.now(), fetch)
		if err != nil {
			return false, err
		}
		if rep.Changed+rep.Failed > 0 {
			s.logger().InfoContext(ctx, "connection metadata refresh", "checked", rep.Checked, "changed", rep.Changed, "failed", rep.Failed)
		}
		return rep.More, nil
	})
}
