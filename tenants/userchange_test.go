package tenants_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// TestUserChangeStatements: deciding whether an organization-scoped
// caller may change a user (checkUserChange) runs as many statements for
// a user in six organizations as for a user in one: the memberships'
// roles and the verified domains are read in bounded queries, not once
// per membership.
func TestUserChangeStatements(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		sqlDB, n := db.Counting(t)
		client := db.ClientOn(sqlDB)
		svc := tenants.NewService(client, tenants.WithPasswordParams(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}))
		sys := viewer.SystemContext(context.Background())
		admin := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Instance, Actor: "key_admin"})

		// statements runs each change, as a key scoped to all of a user's
		// organizations, on a user who belongs to orgs of them.
		statements := func(orgs int) map[string]int64 {
			var ids []pulid.ID
			for i := range orgs {
				slug := fmt.Sprintf("n%do%d", orgs, i)
				o, err := svc.CreateOrganization(admin, tenants.CreateOrganizationInput{Name: slug, Slug: slug})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, o.ID)
			}
			dom := fmt.Sprintf("n%d.example", orgs)
			client.Domain.Create().SetOrganizationID(ids[len(ids)-1]).SetDomain(dom).SetTxtToken("t").
				SetVerificationState(domain.VerificationStateVERIFIED).ExecX(sys)
			u, _, err := svc.CreateUser(admin, tenants.CreateUserInput{Email: "ada@" + dom, OrganizationID: &ids[0]})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range ids[1:] {
				if _, err := svc.AddMember(admin, tenants.AddMemberInput{OrganizationID: o, UserID: u.ID}); err != nil {
					t.Fatal(err)
				}
			}
			key := viewer.NewContext(context.Background(), viewer.ScopedTo("key", ids...))
			out := map[string]int64{}
			for name, change := range map[string]func() error{
				"profile": func() error {
					_, err := svc.UpdateUser(key, tenants.UpdateUserInput{ID: u.ID, Name: ptr("Ada")})
					return err
				},
				"email": func() error {
					_, err := svc.UpdateUser(key, tenants.UpdateUserInput{ID: u.ID, Email: ptr("lovelace@" + dom)})
					return err
				},
				"status": func() error {
					_, err := svc.UpdateUser(key, tenants.UpdateUserInput{ID: u.ID, Status: ptr(user.StatusDISABLED)})
					return err
				},
				"password": func() error {
					_, err := svc.SetUserPassword(key, tenants.SetUserPasswordInput{UserID: u.ID, Password: "a long enough password"})
					return err
				},
			} {
				n.Reset()
				if err := change(); err != nil {
					t.Fatalf("%s change to a user in %d organizations: %v", name, orgs, err)
				}
				out[name] = n.Load()
			}
			return out
		}
		one, six := statements(1), statements(6)
		for name, want := range one {
			if six[name] != want {
				t.Errorf("%s change: %d statements for a user in six organizations, %d in one; want the same", name, six[name], want)
			}
		}
	})
}
