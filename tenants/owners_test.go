package tenants_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/role"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// member is how a user belongs to an organization in the last-owner tests.
type member struct {
	role    string // a built-in role key
	status  membership.Status
	account user.Status
}

var (
	activeOwner    = member{"owner", membership.StatusACTIVE, user.StatusACTIVE}
	invitedOwner   = member{"owner", membership.StatusINVITED, user.StatusACTIVE}
	suspendedOwner = member{"owner", membership.StatusSUSPENDED, user.StatusACTIVE}
	disabledOwner  = member{"owner", membership.StatusACTIVE, user.StatusDISABLED}
	activeAdmin    = member{"admin", membership.StatusACTIVE, user.StatusACTIVE}
)

type ownersEnv struct {
	client *ent.Client
	svc    *tenants.Service
	sys    context.Context
	admin  context.Context // an instance-wide caller
	n      int
}

func newOwnersEnv(db testdb.Database) *ownersEnv {
	client := db.Client()
	return &ownersEnv{client: client, svc: tenants.NewService(client), sys: viewer.SystemContext(context.Background()),
		admin: viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Instance, Actor: "key_admin"})}
}

// org creates an organization that owns the verified domain <slug>.example.
func (e *ownersEnv) org(t *testing.T) *ent.Organization {
	t.Helper()
	e.n++
	slug := fmt.Sprintf("org%d", e.n)
	o, err := e.svc.CreateOrganization(e.admin, tenants.CreateOrganizationInput{Name: slug, Slug: slug})
	if err != nil {
		t.Fatal(err)
	}
	e.client.Domain.Create().SetOrganizationID(o.ID).SetDomain(slug + ".example").SetTxtToken("t").
		SetVerificationState(domain.VerificationStateVERIFIED).ExecX(e.sys)
	return o
}

// join gives a new user of the organization's domain membership m in o.
func (e *ownersEnv) join(o *ent.Organization, m member) *ent.Membership {
	e.n++
	u := e.client.User.Create().SetEmail(fmt.Sprintf("u%d@%s.example", e.n, o.Slug)).SetStatus(m.account).SaveX(e.sys)
	return e.add(o, u.ID, m)
}

// add gives user usr membership m in o.
func (e *ownersEnv) add(o *ent.Organization, usr pulid.ID, m member) *ent.Membership {
	r := e.client.Role.Query().Where(role.OrganizationID(o.ID), role.Key(m.role), role.Builtin(true)).OnlyX(e.sys)
	return e.client.Membership.Create().SetOrganizationID(o.ID).SetUserID(usr).SetStatus(m.status).AddRoles(r).SaveX(e.sys)
}

// owners counts the owners who can act for o: ACTIVE, owner, ACTIVE account.
func (e *ownersEnv) owners(o pulid.ID) int {
	return e.client.Membership.Query().Where(membership.OrganizationID(o), membership.StatusEQ(membership.StatusACTIVE),
		membership.HasRolesWith(role.Key("owner")), membership.HasUserWith(user.StatusEQ(user.StatusACTIVE))).CountX(e.sys)
}

// ownerPaths are the changes that can take an owner from an organization.
// Each must apply the same last-owner rule.
func ownerPaths(svc *tenants.Service) []struct {
	name string
	run  func(ctx context.Context, m *ent.Membership) error
} {
	return []struct {
		name string
		run  func(ctx context.Context, m *ent.Membership) error
	}{
		{"remove", func(ctx context.Context, m *ent.Membership) error { return svc.RemoveMember(ctx, m.ID) }},
		{"demote", func(ctx context.Context, m *ent.Membership) error {
			_, err := svc.UpdateMemberRoles(ctx, tenants.UpdateMemberRolesInput{MembershipID: m.ID, Roles: []string{"member"}})
			return err
		}},
		{"disable", func(ctx context.Context, m *ent.Membership) error {
			_, err := svc.UpdateUser(ctx, tenants.UpdateUserInput{ID: m.UserID, Status: ptr(user.StatusDISABLED)})
			return err
		}},
	}
}

func isLastOwnerConflict(err error) bool {
	var c *tenants.ConflictError
	return errors.As(err, &c) && c.Reason == "is the organization's last owner; make another member owner first"
}

// TestLastOwnerRule: removing, demoting and disabling an owner apply one
// rule — an organization keeps an owner who can act: an ACTIVE membership
// with the owner role, of an ACTIVE account. An invited or suspended
// owner, an owner whose account is disabled and an admin do not count, for
// any caller.
func TestLastOwnerRule(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newOwnersEnv(db)
		for _, c := range []struct {
			name   string
			target member
			other  *member // the organization's other member, if any
			allow  bool
		}{
			{"sole owner", activeOwner, nil, false},
			{"another active owner", activeOwner, &activeOwner, true},
			{"the other owner is invited", activeOwner, &invitedOwner, false},
			{"the other owner is suspended", activeOwner, &suspendedOwner, false},
			{"the other owner's account is disabled", activeOwner, &disabledOwner, false},
			{"the other member is an admin", activeOwner, &activeAdmin, false},
			{"an invited owner is not the last owner", invitedOwner, &activeOwner, true},
			{"an invited owner alone", invitedOwner, nil, true},
			{"a disabled owner alone", disabledOwner, nil, true},
			{"an admin in an organization without owner", activeAdmin, nil, true},
		} {
			for _, p := range ownerPaths(e.svc) {
				t.Run(c.name+"/"+p.name, func(t *testing.T) {
					o := e.org(t)
					target := e.join(o, c.target)
					if c.other != nil {
						e.join(o, *c.other)
					}
					before := e.owners(o.ID)
					err := p.run(e.admin, target)
					switch {
					case c.allow && err != nil:
						t.Fatalf("%s: %v, want it allowed", p.name, err)
					case !c.allow && !isLastOwnerConflict(err):
						t.Fatalf("%s: %v, want the last-owner conflict", p.name, err)
					case !c.allow && e.owners(o.ID) != before:
						t.Errorf("%s was refused but the organization has %d owners, had %d", p.name, e.owners(o.ID), before)
					}
				})
			}
		}

		// An organization's own key is refused alike.
		t.Run("organization key", func(t *testing.T) {
			for _, p := range ownerPaths(e.svc) {
				o := e.org(t)
				key := viewer.NewContext(context.Background(), viewer.ScopedTo("key_"+o.Slug, o.ID))
				target := e.join(o, activeOwner)
				if err := p.run(key, target); !isLastOwnerConflict(err) {
					t.Errorf("%s the sole owner with the organization's key: %v, want the last-owner conflict", p.name, err)
				}
				e.join(o, activeOwner)
				if err := p.run(key, target); err != nil {
					t.Errorf("%s one of two owners with the organization's key: %v", p.name, err)
				}
			}
		})

		// A user who is the last owner of one organization among several
		// keeps its account; re-enabling an account is never refused.
		t.Run("last owner of one organization of two", func(t *testing.T) {
			shared, solo := e.org(t), e.org(t)
			m := e.join(shared, activeOwner)
			e.join(shared, activeOwner)
			e.add(solo, m.UserID, activeOwner)
			disable := tenants.UpdateUserInput{ID: m.UserID, Status: ptr(user.StatusDISABLED)}
			if _, err := e.svc.UpdateUser(e.admin, disable); !isLastOwnerConflict(err) {
				t.Fatalf("disabling the last owner of %s: %v, want the last-owner conflict", solo.Slug, err)
			}
			if u := e.client.User.GetX(e.sys, m.UserID); u.Status != user.StatusACTIVE {
				t.Errorf("refused change left the account %s", u.Status)
			}
			e.join(solo, activeOwner)
			if _, err := e.svc.UpdateUser(e.admin, disable); err != nil {
				t.Fatalf("disabling an owner both organizations can do without: %v", err)
			}
			if _, err := e.svc.UpdateUser(e.admin, tenants.UpdateUserInput{ID: m.UserID, Status: ptr(user.StatusACTIVE)}); err != nil {
				t.Errorf("re-enabling: %v", err)
			}
		})
	})
}

// racer is a goroutine's name in the context of the changes it makes.
type racerKey struct{}

// raceBarrier holds each racer's change (its write to a membership or a
// user, after the last-owner count) until the other racer has come as
// far as the organization lock (its write to the organization's row) or
// finished. Code that counted owners without taking the lock would let
// both counts happen before either change commits; the rule's lock makes
// the second racer wait for the first's commit instead, and the barrier
// lets the first go once the second is waiting.
type raceBarrier struct {
	arrived [2]chan struct{}
	once    [2]sync.Once
}

func newRaceBarrier() *raceBarrier {
	return &raceBarrier{arrived: [2]chan struct{}{make(chan struct{}), make(chan struct{})}}
}

func (b *raceBarrier) arrive(i int) { b.once[i].Do(func() { close(b.arrived[i]) }) }

func (b *raceBarrier) hook(next ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
		if i, ok := ctx.Value(racerKey{}).(int); ok {
			switch m.Type() {
			case ent.TypeOrganization:
				b.arrive(i)
			case ent.TypeMembership, ent.TypeUser:
				b.arrive(i)
				<-b.arrived[1-i]
			}
		}
		return next.Mutate(ctx, m)
	})
}

// TestLastOwnerRace: two changes taking the two owners of an organization
// at the same moment — any two of removing, demoting and disabling — leave
// one owner: one change commits, the other is the last-owner conflict. On
// PostgreSQL a barrier makes the second change count while the first is
// uncommitted; SQLite's writers never overlap (BEGIN IMMEDIATE), so there
// the two only start together.
func TestLastOwnerRace(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newOwnersEnv(db)
		var barrier *raceBarrier
		if db.Dialect == dialect.Postgres {
			e.client.Use(func(next ent.Mutator) ent.Mutator {
				return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
					if barrier == nil {
						return next.Mutate(ctx, m)
					}
					return barrier.hook(next).Mutate(ctx, m)
				})
			})
		}
		paths := ownerPaths(e.svc)
		for _, p1 := range paths {
			for _, p2 := range paths {
				t.Run(p1.name+"+"+p2.name, func(t *testing.T) {
					o := e.org(t)
					owners := []*ent.Membership{e.join(o, activeOwner), e.join(o, activeOwner)}
					run := []func(context.Context, *ent.Membership) error{p1.run, p2.run}
					if db.Dialect == dialect.Postgres {
						barrier = newRaceBarrier()
						defer func() { barrier = nil }()
					}
					start := make(chan struct{})
					errs := make([]error, 2)
					var wg sync.WaitGroup
					for i := range 2 {
						wg.Add(1)
						go func() {
							defer wg.Done()
							if barrier != nil {
								defer barrier.arrive(i)
							}
							<-start
							errs[i] = run[i](context.WithValue(e.admin, racerKey{}, i), owners[i])
						}()
					}
					close(start)
					wg.Wait()
					won := 0
					for i, err := range errs {
						switch {
						case err == nil:
							won++
						case !isLastOwnerConflict(err):
							t.Errorf("racer %d: %v, want success or the last-owner conflict", i, err)
						}
					}
					if n := e.owners(o.ID); won != 1 || n != 1 {
						t.Errorf("%d changes committed, %d owners left; want 1 and 1", won, n)
					}
				})
			}
		}
	})
}
