package bench_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/connection"
	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/internal/database"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// hrdDomains is the number of verified domains BenchmarkHomeRealmDiscovery
// looks up among (issue 10: under 1 ms p99 at 100k).
const hrdDomains = 100_000

// hrdBatch is the rows per INSERT while seeding: a domain row has 9
// columns, under SQLite's 32766 bound variables.
const hrdBatch = 2000

// BenchmarkHomeRealmDiscovery measures tenants.DiscoverConnection, the
// identifier step's home-realm discovery, at 100k organizations each with
// a VERIFIED domain, a DRAFT and an ACTIVE connection and a policy (every
// tenth enforcing SSO), plus 100k unverified claims on other names. Each
// iteration looks up the address of a random verified domain (a fixed
// seed) and must find its organization's active connection; "miss" looks
// up names nobody verified. p50-ms and p99-ms are nearest-rank
// percentiles of the calls, timed one after another after 200 untimed
// ones.
func BenchmarkHomeRealmDiscovery(b *testing.B) {
	dbs := byBackend(testdb.All(b))
	for _, backend := range backends {
		b.Run(backend, func(b *testing.B) {
			skipMissing(b, dbs, backend)
			db := dbs[backend]
			want := seedDomains(b, db, hrdDomains)
			svc := tenants.NewService(db.Client())
			for _, miss := range []bool{false, true} {
				name := "100k"
				if miss {
					name = "100k-miss"
				}
				b.Run(name, func(b *testing.B) {
					rng := rand.New(rand.NewPCG(10, 10))
					ctx := context.Background()
					// Warm-up, untimed: the pool's connections and statements.
					for i := range 200 {
						if _, _, err := svc.DiscoverConnection(ctx, "ada@"+hrdName(i)); err != nil {
							b.Fatal(err)
						}
					}
					lat := make([]time.Duration, 0, b.N)
					b.ResetTimer()
					for range b.N {
						i := rng.IntN(hrdDomains)
						email := fmt.Sprintf("ada@%s", hrdName(i))
						if miss {
							email = fmt.Sprintf("ada@unverified-%06d.example", i)
						}
						start := time.Now()
						got, found, err := svc.DiscoverConnection(ctx, email)
						lat = append(lat, time.Since(start))
						switch {
						case err != nil:
							b.Fatalf("DiscoverConnection(%s): %v", email, err)
						case miss && found:
							b.Fatalf("DiscoverConnection(%s) found %+v in an unverified claim", email, got)
						case !miss && (!found || got != want[i]):
							b.Fatalf("DiscoverConnection(%s) = %+v %v, want %+v", email, got, found, want[i])
						}
					}
					b.StopTimer()
					slices.Sort(lat)
					b.ReportMetric(percentile(lat, 50), "p50-ms")
					b.ReportMetric(percentile(lat, 99), "p99-ms")
				})
			}
		})
	}
}

func hrdName(i int) string { return fmt.Sprintf("corp-%06d.example", i) }

// seedDomains creates n organizations, each with a VERIFIED domain
// (hrdName), a DRAFT connection made before an ACTIVE one, and a policy,
// plus an organization holding n unverified claims on other names; it
// returns what discovery must answer for each domain. On PostgreSQL it
// then runs VACUUM ANALYZE, as seedMembers does.
func seedDomains(b *testing.B, db testdb.Database, n int) []tenants.Discovery {
	b.Helper()
	start := time.Now()
	ctx := viewer.SystemContext(context.Background())
	client := db.Client()
	want := make([]tenants.Discovery, n)
	squatter := client.Organization.Create().SetName("Squatter").SetSlug("squatter").SaveX(ctx)
	now := time.Now()
	for lo := 0; lo < n; lo += hrdBatch {
		hi := min(lo+hrdBatch, n)
		err := inTx(ctx, client, func(tx *ent.Tx) error {
			orgs := make([]*ent.OrganizationCreate, hi-lo)
			for i := range orgs {
				orgs[i] = tx.Organization.Create().SetName(fmt.Sprintf("Corp %d", lo+i)).SetSlug(fmt.Sprintf("corp-%06d", lo+i))
			}
			created, err := tx.Organization.CreateBulk(orgs...).Save(ctx)
			if err != nil {
				return err
			}
			var domains, claims []*ent.DomainCreate
			var policies []*ent.OrganizationPolicyCreate
			var drafts, actives []*ent.ConnectionCreate
			for i, o := range created {
				k := lo + i
				domains = append(domains, tx.Domain.Create().SetOrganizationID(o.ID).SetDomain(hrdName(k)).
					SetTxtToken("gatehouse-verification=bench").SetVerificationState(domain.VerificationStateVERIFIED).
					SetVerifiedAt(now).SetLastCheckedAt(now))
				claims = append(claims, tx.Domain.Create().SetOrganizationID(squatter.ID).
					SetDomain(fmt.Sprintf("unverified-%06d.example", k)).SetTxtToken("gatehouse-verification=bench"))
				policies = append(policies, tx.OrganizationPolicy.Create().SetOrganizationID(o.ID).SetEnforceSSO(k%10 == 0))
				drafts = append(drafts, tx.Connection.Create().SetOrganizationID(o.ID).SetName("draft").
					SetProtocol(connection.ProtocolSAML).SetState(connection.StateDRAFT))
				actives = append(actives, tx.Connection.Create().SetOrganizationID(o.ID).SetName("okta").
					SetProtocol(connection.ProtocolSAML).SetState(connection.StateACTIVE))
			}
			if err := tx.Domain.CreateBulk(domains...).Exec(ctx); err != nil {
				return err
			}
			if err := tx.Domain.CreateBulk(claims...).Exec(ctx); err != nil {
				return err
			}
			if err := tx.OrganizationPolicy.CreateBulk(policies...).Exec(ctx); err != nil {
				return err
			}
			if err := tx.Connection.CreateBulk(drafts...).Exec(ctx); err != nil {
				return err
			}
			conns, err := tx.Connection.CreateBulk(actives...).Save(ctx)
			if err != nil {
				return err
			}
			for i, o := range created {
				want[lo+i] = tenants.Discovery{OrganizationID: o.ID, ConnectionID: conns[i].ID, EnforceSSO: (lo+i)%10 == 0}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("seed domains %d–%d: %v", lo, hi, err)
		}
	}
	if db.Dialect == database.Postgres {
		// CHECKPOINT: the bulk load's dirty pages are written now, not by
		// a checkpoint in the middle of the measurement.
		for _, stmt := range []string{`VACUUM ANALYZE`, `CHECKPOINT`} {
			if _, err := db.SQL.ExecContext(ctx, stmt); err != nil {
				b.Fatalf("seed: %s: %v", stmt, err)
			}
		}
	}
	b.Logf("seeded %d verified domains on %s in %s", n, db.Name, time.Since(start).Round(time.Millisecond))
	return want
}

func inTx(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) error {
	tx, err := client.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
