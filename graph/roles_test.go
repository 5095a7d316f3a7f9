package graph_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent/domain"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/role"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/graph"
	"github.com/gatehouse-id/gatehouse/internal/dnstest"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// fixture is one organization with a member of each role, the admin
// tokens of those members, and an organization API key minted by the
// instance. Its domain <slug>.example is VERIFIED.
type fixture struct {
	slug, org, domain, keyID, domainID string
	users, mems                        map[string]string // by role: owner, admin, member, auditor, target
	callers                            map[string]string // bearer credential by caller name
}

// callerNames are the callers of the permission table: the built-in roles
// and one custom role (auditor: organization:read, members:read,
// audit:read) through their admin tokens, and the organization's own key.
var callerNames = []string{"owner", "admin", "member", "auditor", "orgkey"}

func (e *env) fixture(slug string) fixture {
	e.t.Helper()
	f := fixture{slug: slug, domain: slug + ".example", users: map[string]string{}, mems: map[string]string{}, callers: map[string]string{}}
	f.org = e.createOrg(slug, slug)
	e.verifiedDomain(f.org, f.domain)
	e.ok(e.admin, `mutation($o:ID!){createRole(input:{organizationID:$o,key:"auditor",name:"Auditor",permissions:["organization:read","members:read","audit:read"]}){role{id}}}`,
		map[string]any{"o": f.org})
	for _, r := range []string{"owner", "admin", "member", "auditor"} {
		f.users[r], f.mems[r] = e.createMember(f.org, r+"@"+f.domain, r)
		f.callers[r] = "tok|" + f.users[r] + "|openid gatehouse:admin|"
	}
	f.users["target"], f.mems["target"] = e.createMember(f.org, "target@"+f.domain, "member")
	d := e.ok(e.admin, `mutation($s:[String!]){createAPIKey(input:{name:"scoped",scopes:$s}){apiKey{id} secret}}`,
		map[string]any{"s": []string{"org:" + f.org}})
	f.callers["orgkey"], f.keyID = str(d, "createAPIKey.secret"), str(d, "createAPIKey.apiKey.id")
	d = e.ok(e.admin, `mutation($o:ID!){addDomain(input:{organizationID:$o,domain:"claimed.example"}){domain{id}}}`, map[string]any{"o": f.org})
	f.domainID = str(d, "addDomain.domain.id")
	return f
}

// verifiedDomain records domain as VERIFIED for org (verification itself
// comes with the federation work).
func (e *env) verifiedDomain(org, name string) {
	e.t.Helper()
	if err := e.client.Domain.Create().SetOrganizationID(pulid.ID(org)).SetDomain(name).SetTxtToken("t").
		SetVerificationState(domain.VerificationStateVERIFIED).Exec(viewer.SystemContext(context.Background())); err != nil {
		e.t.Fatal(err)
	}
}

// TestRolePermissions runs every mutation as every built-in role, a custom
// role and the organization's own key, each on a fresh organization, and
// checks that permissions decide (SECURITY-CHECKLIST MT-11): an admin
// cannot delete the organization, grant owner (itself included), create a
// role with permissions it lacks, or touch an owner's account; the last
// owner stays.
func TestRolePermissions(t *testing.T) {
	const ok, forbidden, conflict, bad = "", "FORBIDDEN", "CONFLICT", "BAD_USER_INPUT"
	type op struct {
		name  string
		query string
		vars  func(f fixture) map[string]any
		want  map[string]string // by caller; missing means forbidden
	}
	org := func(f fixture) map[string]any { return map[string]any{"o": f.org} }
	mem := func(role string) func(f fixture) map[string]any {
		return func(f fixture) map[string]any { return map[string]any{"m": f.mems[role]} }
	}
	usr := func(role string) func(f fixture) map[string]any {
		return func(f fixture) map[string]any {
			return map[string]any{"u": f.users[role], "e": "renamed-" + role + "@" + f.domain}
		}
	}
	all := func(code string) map[string]string {
		return map[string]string{"owner": code, "admin": code, "member": code, "auditor": code, "orgkey": code}
	}
	ownerOnly := map[string]string{"owner": ok, "orgkey": ok}
	admins := map[string]string{"owner": ok, "admin": ok, "orgkey": ok}
	ops := []op{
		{"updateOrganization", `mutation($o:ID!){updateOrganization(input:{id:$o,name:"renamed"}){organization{id}}}`, org, admins},
		{"deleteOrganization", `mutation($o:ID!){deleteOrganization(input:{id:$o}){deletedID}}`, org, ownerOnly},
		{"updateOrganizationPolicy", `mutation($o:ID!){updateOrganizationPolicy(input:{organizationID:$o,mfaRequired:false}){policy{id}}}`, org, admins},
		{"createRole within admin's permissions", `mutation($o:ID!){createRole(input:{organizationID:$o,key:"reader",name:"Reader",permissions:["members:read"]}){role{id}}}`, org, admins},
		{"createRole with organization:delete", `mutation($o:ID!){createRole(input:{organizationID:$o,key:"deleter",name:"Deleter",permissions:["organization:delete"]}){role{id}}}`, org, ownerOnly},
		{"createRole with a product permission", `mutation($o:ID!){createRole(input:{organizationID:$o,key:"billing",name:"Billing",permissions:["invoices:read"]}){role{id}}}`, org, ownerOnly},
		{"createRole with *", `mutation($o:ID!){createRole(input:{organizationID:$o,key:"god",name:"God",permissions:["*"]}){role{id}}}`, org, all(bad)},
		{"createUser as owner", `mutation($o:ID!){createUser(input:{email:"new-owner@` + "DOMAIN" + `",organizationID:$o,roles:["owner"]}){user{id}}}`, org, ownerOnly},
		{"createUser as admin", `mutation($o:ID!){createUser(input:{email:"new-admin@` + "DOMAIN" + `",organizationID:$o,roles:["admin"]}){user{id}}}`, org, admins},
		{"admin grants itself owner", `mutation($m:ID!){updateMemberRoles(input:{membershipID:$m,roles:["owner"]}){membership{id}}}`, mem("admin"), ownerOnly},
		{"grant owner to a member", `mutation($m:ID!){updateMemberRoles(input:{membershipID:$m,roles:["owner"]}){membership{id}}}`, mem("target"), ownerOnly},
		{"grant admin to a member", `mutation($m:ID!){updateMemberRoles(input:{membershipID:$m,roles:["admin"]}){membership{id}}}`, mem("target"), admins},
		{"demote the last owner", `mutation($m:ID!){updateMemberRoles(input:{membershipID:$m,roles:["admin"]}){membership{id}}}`, mem("owner"), map[string]string{"owner": conflict, "orgkey": conflict}},
		{"remove the last owner", `mutation($m:ID!){removeMember(input:{membershipID:$m}){removedMembershipID}}`, mem("owner"), map[string]string{"owner": conflict, "orgkey": conflict}},
		{"remove a member", `mutation($m:ID!){removeMember(input:{membershipID:$m}){removedMembershipID}}`, mem("target"), admins},
		{"set an owner's password", `mutation($u:ID!){setUserPassword(input:{userID:$u,password:"a brand new passphrase"}){user{id}}}`, usr("owner"), ownerOnly},
		{"change an owner's email", `mutation($u:ID!,$e:String!){updateUser(input:{id:$u,email:$e}){user{id}}}`, usr("owner"), ownerOnly},
		{"change an owner's name", `mutation($u:ID!){updateUser(input:{id:$u,name:"Mallory"}){user{id}}}`, usr("owner"), ownerOnly},
		{"set a member's password", `mutation($u:ID!){setUserPassword(input:{userID:$u,password:"a brand new passphrase"}){user{id}}}`, usr("target"), admins},
		{"change a member's email", `mutation($u:ID!,$e:String!){updateUser(input:{id:$u,email:$e}){user{id}}}`, usr("target"), admins},
		{"addDomain", `mutation($o:ID!){addDomain(input:{organizationID:$o,domain:"more.example"}){domain{id}}}`, org, admins},
		{"createAPIKey", `mutation{createAPIKey(input:{name:"k",scopes:["org:"]}){secret}}`, func(fixture) map[string]any { return nil }, admins},
		// The fixture's domain is VERIFIED and publishes nothing: re-checked, flagged, answered with failureReason.
		{"verifyDomain", `mutation($d:ID!){verifyDomain(input:{id:$d}){domain{id} failureReason}}`, func(f fixture) map[string]any { return map[string]any{"d": f.domainID} }, admins},
		{"removeDomain", `mutation($d:ID!){removeDomain(input:{id:$d}){removedDomainID}}`, func(f fixture) map[string]any { return map[string]any{"d": f.domainID} }, admins},
		// Keys are invisible without apikeys:manage: NOT_FOUND, as for a missing key.
		{"revokeAPIKey", `mutation($k:ID!){revokeAPIKey(input:{id:$k}){apiKey{id}}}`, func(f fixture) map[string]any { return map[string]any{"k": f.keyID} },
			map[string]string{"owner": ok, "admin": ok, "orgkey": ok, "member": "NOT_FOUND", "auditor": "NOT_FOUND"}},
	}
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db, func(c *graph.Config) { c.VerifyToken = fakeTokens }, withDNS(t, dnstest.Start(t)))
		e.adminApp()
		n := 0
		for _, o := range ops {
			for _, caller := range callerNames {
				n++
				f := e.fixture("o" + strconv.Itoa(n))
				query := strings.ReplaceAll(o.query, "DOMAIN", f.domain)
				query = strings.ReplaceAll(query, `"org:"`, `"org:`+f.org+`"`)
				want, listed := o.want[caller]
				if !listed {
					want = forbidden
				}
				r := e.do(f.callers[caller], query, o.vars(f))
				if r.Status != http.StatusOK || r.code() != want {
					t.Errorf("%s as %s: %d %s, want %q", o.name, caller, r.Status, r.raw, want)
				}
			}
		}
	})
}

// TestRoleReads: reads need their permission too — audit events
// audit:read, members members:read — and a custom role holds exactly its
// own.
func TestRoleReads(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db, func(c *graph.Config) { c.VerifyToken = fakeTokens })
		e.adminApp()
		f := e.fixture("reads")
		const q = `{ organizations { totalCount } users { totalCount } auditEvents { totalCount } }`
		for caller, want := range map[string][2]bool{ // users, audit events visible
			"owner":   {true, true},
			"admin":   {true, true},
			"member":  {true, false},
			"auditor": {true, true},
			"orgkey":  {true, true},
		} {
			d := e.ok(f.callers[caller], q, nil)
			got := [2]bool{get(d, "users.totalCount") == float64(5), get(d, "auditEvents.totalCount") != float64(0)}
			if got != want || get(d, "organizations.totalCount") != float64(1) {
				t.Errorf("%s reads %v, want users/audit visible = %v", caller, d, want)
			}
		}
	})
}

// TestMintedKeysBoundedByTheirUser: a key an admin mints (directly with an
// admin token, or with a key the admin minted) acts with the admin's
// current permissions: never more (no organization delete), and not at all
// once the admin is demoted, removed or disabled.
func TestMintedKeysBoundedByTheirUser(t *testing.T) {
	mint := func(e *env, cred, org string) string {
		d := e.ok(cred, `mutation($s:[String!]){createAPIKey(input:{name:"minted",scopes:$s}){secret}}`, map[string]any{"s": []string{"org:" + org}})
		return str(d, "createAPIKey.secret")
	}
	works := func(e *env, key, org string) int {
		return e.do(key, `mutation($o:ID!){updateOrganization(input:{id:$o,name:"still here"}){organization{id}}}`, map[string]any{"o": org}).Status
	}
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db, func(c *graph.Config) { c.VerifyToken = fakeTokens })
		e.adminApp()
		for _, loss := range []struct {
			name          string
			lose, restore string
		}{
			{"demotion", `mutation($m:ID!){updateMemberRoles(input:{membershipID:$m,roles:["member"]}){membership{id}}}`,
				`mutation($m:ID!){updateMemberRoles(input:{membershipID:$m,roles:["admin"]}){membership{id}}}`},
			{"disabled user", `mutation($u:ID!){updateUser(input:{id:$u,status:DISABLED}){user{id}}}`,
				`mutation($u:ID!){updateUser(input:{id:$u,status:ACTIVE}){user{id}}}`},
			{"suspension", "", ""},
			{"removal", `mutation($m:ID!){removeMember(input:{membershipID:$m}){removedMembershipID}}`, ""},
		} {
			f := e.fixture("keys-" + strings.ReplaceAll(loss.name, " ", "-"))
			direct := mint(e, f.callers["admin"], f.org)
			chained := mint(e, direct, f.org)
			for name, key := range map[string]string{"direct": direct, "chained": chained} {
				if s := works(e, key, f.org); s != http.StatusOK {
					t.Fatalf("%s key of an admin: %d", name, s)
				}
				r := e.do(key, `mutation($o:ID!){deleteOrganization(input:{id:$o}){deletedID}}`, map[string]any{"o": f.org})
				if r.code() != "FORBIDDEN" {
					t.Errorf("%s key of an admin deleting the organization: %s", name, r.raw)
				}
				r = e.do(key, `mutation($m:ID!){updateMemberRoles(input:{membershipID:$m,roles:["owner"]}){membership{id}}}`, map[string]any{"m": f.mems["admin"]})
				if r.code() != "FORBIDDEN" {
					t.Errorf("%s key of an admin making the admin owner: %s", name, r.raw)
				}
			}
			if loss.name == "suspension" {
				if err := e.client.Membership.UpdateOneID(pulid.ID(f.mems["admin"])).SetStatus("SUSPENDED").
					Exec(viewer.SystemContext(context.Background())); err != nil {
					t.Fatal(err)
				}
			} else {
				e.ok(e.admin, loss.lose, map[string]any{"m": f.mems["admin"], "u": f.users["admin"]})
			}
			for name, key := range map[string]string{"direct": direct, "chained": chained} {
				if s := works(e, key, f.org); s != http.StatusUnauthorized {
					t.Errorf("after %s, %s key: %d, want 401", loss.name, name, s)
				}
			}
			if loss.restore != "" {
				e.ok(e.admin, loss.restore, map[string]any{"m": f.mems["admin"], "u": f.users["admin"]})
				if s := works(e, direct, f.org); s != http.StatusOK {
					t.Errorf("after %s was undone, key: %d, want it bounded by the restored permissions", loss.name, s)
				}
			}
		}
		// An instance-minted organization key is not bound to anyone.
		f := e.fixture("keys-instance")
		if s := works(e, f.callers["orgkey"], f.org); s != http.StatusOK {
			t.Errorf("instance-minted organization key: %d", s)
		}
	})
}

// TestScopedCallersInvite: an organization-scoped caller vouches for,
// sets passwords of and changes the email of users only in its verified
// domains; anyone else is invited, with one answer whether or not the
// address exists elsewhere, and never rewritten. Instance keys keep full
// power.
func TestScopedCallersInvite(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db, func(c *graph.Config) { c.VerifyToken = fakeTokens })
		e.adminApp()
		f := e.fixture("acme")
		other := e.createOrg("Other", "other")
		sys := viewer.SystemContext(context.Background())
		// An outsider who is already an ACTIVE member of acme (added by the instance).
		outsider, _ := e.createMember(f.org, "olga@gmail.example", "member")

		const create = `mutation($o:ID!,$e:String!,$p:String,$v:Boolean,$n:String){createUser(input:{organizationID:$o,email:$e,password:$p,emailVerified:$v,name:$n}){user{id emailVerified} membership{status}}}`
		for _, caller := range []string{"orgkey", "admin"} {
			key := f.callers[caller]
			grace := "grace-" + caller + "@elsewhere.example"
			elsewhere, _ := e.createMember(other, grace, "owner")
			e.ok(e.admin, `mutation($u:ID!){setUserPassword(input:{userID:$u,password:"an own long password"}){user{id}}}`, map[string]any{"u": elsewhere})
			before := e.client.User.GetX(sys, pulid.ID(elsewhere))
			t.Run(caller, func(t *testing.T) {
				for _, c := range []struct {
					name, email string
					password    any
					verified    any
					want, field string
				}{
					{"password in a verified domain", "pw-" + caller + "@" + f.domain, "correct horse battery", true, "", ""},
					{"password elsewhere", "pw-" + caller + "@gmail.example", "correct horse battery", nil, "FORBIDDEN", "password"},
					{"vouching elsewhere", "v-" + caller + "@gmail.example", nil, true, "FORBIDDEN", "emailVerified"},
					{"password for an existing address", grace, "correct horse battery", nil, "FORBIDDEN", "password"},
					{"vouching for an existing address", grace, nil, true, "FORBIDDEN", "emailVerified"},
				} {
					r := e.do(key, create, map[string]any{"o": f.org, "e": c.email, "p": c.password, "v": c.verified})
					if r.code() != c.want || (c.field != "" && get(r.Errors[0].Extensions, "field") != c.field) {
						t.Errorf("%s: %s, want %q on %q", c.name, r.raw, c.want, c.field)
					}
					if c.want == "" && (get(r.Data, "createUser.user.emailVerified") != true || str(r.Data, "createUser.membership.status") != "ACTIVE") {
						t.Errorf("%s: %s, want an ACTIVE member with a verified email", c.name, r.raw)
					}
				}

				// A fresh address and one registered elsewhere answer alike — an
				// invitation, whose user stays hidden — and leave alike traces
				// in the organization's audit trail.
				const invite = `mutation($o:ID!,$e:String!,$n:String){createUser(input:{organizationID:$o,email:$e,name:$n}){user{id} membership{status userID roles{key}}}}`
				trail := func(email string) (response, string) {
					before := get(e.ok(f.callers["orgkey"], `{auditEvents{totalCount}}`, nil), "auditEvents.totalCount").(float64)
					r := e.do(key, invite, map[string]any{"o": f.org, "e": email, "n": "Mallory"})
					d := e.ok(f.callers["orgkey"], `query($n:Int!){auditEvents(last:$n){edges{node{action targetType metadata}}}}`,
						map[string]any{"n": int(get(e.ok(f.callers["orgkey"], `{auditEvents{totalCount}}`, nil), "auditEvents.totalCount").(float64) - before)})
					events, _ := json.Marshal(get(d, "auditEvents.edges"))
					return r, strings.ReplaceAll(string(events), email, "EMAIL")
				}
				fresh, freshTrail := trail("new-" + caller + "@gmail.example")
				existing, existingTrail := trail(grace)
				for name, r := range map[string]response{"fresh": fresh, "existing": existing} {
					if len(r.Errors) > 0 || get(r.Data, "createUser.user") != nil || str(r.Data, "createUser.membership.status") != "INVITED" ||
						get(r.Data, "createUser.membership.userID") != nil {
						t.Errorf("%s address: %s, want user null and an INVITED membership naming no user", name, r.raw)
					}
				}
				if fresh.raw != existing.raw {
					t.Errorf("answers differ: fresh %s, existing %s", fresh.raw, existing.raw)
				}
				if freshTrail != existingTrail || !strings.Contains(freshTrail, "member.invite") {
					t.Errorf("audit trails differ: fresh %s, existing %s", freshTrail, existingTrail)
				}
				// Once invited, the same caller hears CONFLICT: its own organization's membership.
				if r := e.do(key, create, map[string]any{"o": f.org, "e": grace}); r.code() != "CONFLICT" {
					t.Errorf("inviting twice: %s", r.raw)
				}

				// The invited account is untouched and hidden until accepted.
				after := e.client.User.GetX(sys, pulid.ID(elsewhere))
				if after.Name != before.Name || after.PasswordHash != before.PasswordHash || after.EmailVerified != before.EmailVerified {
					t.Errorf("inviting rewrote the account: %+v", after)
				}
				if d := e.ok(key, `query($g:String!){ users(where:{emailHasSuffix:"gmail.example"}) { totalCount } u: user(email:$g) { id } }`, map[string]any{"g": grace}); get(d, "users.totalCount") != float64(1) || get(d, "u") != nil {
					t.Errorf("invited users visible before accepting: %v", d)
				}

				// An ACTIVE member outside the verified domains: the profile
				// may change, the account facts may not.
				e.ok(key, `mutation($u:ID!){updateUser(input:{id:$u,name:"Olga"}){user{id}}}`, map[string]any{"u": outsider})
				for name, q := range map[string]string{
					"password":      `mutation($u:ID!){setUserPassword(input:{userID:$u,password:"a brand new passphrase"}){user{id}}}`,
					"email":         `mutation($u:ID!){updateUser(input:{id:$u,email:"olga@` + f.domain + `"}){user{id}}}`,
					"emailVerified": `mutation($u:ID!){updateUser(input:{id:$u,emailVerified:true}){user{id}}}`,
					"status":        `mutation($u:ID!){updateUser(input:{id:$u,status:DISABLED}){user{id}}}`,
				} {
					if r := e.do(key, q, map[string]any{"u": outsider}); r.code() != "FORBIDDEN" {
						t.Errorf("%s of a member outside the verified domains: %s", name, r.raw)
					}
				}
				// Moving a member of the verified domain to an address outside it is refused too.
				if r := e.do(key, `mutation($u:ID!){updateUser(input:{id:$u,email:"target@gmail.example"}){user{id}}}`, map[string]any{"u": f.users["target"]}); r.code() != "FORBIDDEN" {
					t.Errorf("changing an owned address to an unowned one: %s", r.raw)
				}
			})
		}

		// Accepting at sign-in makes the invitation ACTIVE and the user visible.
		d := e.ok(f.callers["orgkey"], create, map[string]any{"o": f.org, "e": "new-later@gmail.example"})
		if str(d, "createUser.membership.status") != "INVITED" {
			t.Fatalf("invitation: %v", d)
		}
		invited, err := e.svc.UserByEmail(sys, "new-later@gmail.example")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AcceptInvitations(sys, invited.ID); err != nil {
			t.Fatal(err)
		}
		if d := e.ok(f.callers["orgkey"], `{ u: user(email:"new-later@gmail.example") { memberships { edges { node { status } } } } }`, nil); str(d, "u.memberships.edges.0.node.status") != "ACTIVE" {
			t.Errorf("after accepting: %v", d)
		}

		// The instance keeps full power.
		d = e.ok(e.admin, create, map[string]any{"o": f.org, "e": "ops@gmail.example", "p": "correct horse battery", "v": true})
		if get(d, "createUser.user.emailVerified") != true || str(d, "createUser.membership.status") != "ACTIVE" {
			t.Errorf("instance createUser: %v", d)
		}
		e.ok(e.admin, `mutation($u:ID!){setUserPassword(input:{userID:$u,password:"a brand new passphrase"}){user{id}}}`, map[string]any{"u": invited.ID})
	})
}

// TestDomainClaimsSayNothingAboutOthers: claiming a domain another
// organization has claimed, or even verified, answers like a fresh claim;
// at most one claim per name is ever VERIFIED.
func TestDomainClaimsSayNothingAboutOthers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		a, b := e.createOrg("A", "a"), e.createOrg("B", "b")
		e.verifiedDomain(a, "taken.example")
		e.ok(e.admin, `mutation($o:ID!){addDomain(input:{organizationID:$o,domain:"pending.example"}){domain{id}}}`, map[string]any{"o": a})
		key := e.orgKey(b)
		const claim = `mutation($o:ID!,$d:String!){addDomain(input:{organizationID:$o,domain:$d}){domain{domain verificationState verifiedAt txtRecordName}}}`
		shape := func(r response, name string) string {
			return strings.ReplaceAll(r.raw, name, "NAME")
		}
		fresh := e.do(key, claim, map[string]any{"o": b, "d": "fresh.example"})
		for _, name := range []string{"taken.example", "pending.example"} {
			r := e.do(key, claim, map[string]any{"o": b, "d": name})
			if len(r.Errors) > 0 || shape(r, name) != shape(fresh, "fresh.example") {
				t.Errorf("claiming %s: %s, want the answer of a fresh claim %s", name, r.raw, fresh.raw)
			}
		}
		if r := e.do(key, claim, map[string]any{"o": b, "d": "taken.example"}); r.code() != "CONFLICT" {
			t.Errorf("claiming a name twice in one organization: %s", r.raw)
		}
		// A second VERIFIED claim of one name cannot be stored.
		sys := viewer.SystemContext(context.Background())
		err := e.client.Domain.Update().Where(domain.OrganizationID(pulid.ID(b)), domain.Domain("taken.example")).
			SetVerificationState(domain.VerificationStateVERIFIED).Exec(sys)
		if err == nil {
			t.Error("two VERIFIED claims of taken.example were stored")
		}
		if err := e.client.Domain.Update().Where(domain.OrganizationID(pulid.ID(b)), domain.Domain("pending.example")).
			SetVerificationState(domain.VerificationStateVERIFIED).Exec(sys); err != nil {
			t.Errorf("verifying a name only claimed elsewhere: %v", err)
		}
	})
}

// TestRoleAttacks: an admin batching forbidden changes as aliases of one
// document gets each refused and nothing changes; another tenant's ids
// answer like missing ones.
func TestRoleAttacks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db, func(c *graph.Config) { c.VerifyToken = fakeTokens })
		e.adminApp()
		x, y := e.fixture("x"), e.fixture("y")
		admin := x.callers["admin"]
		r := e.do(admin, `mutation($o:ID!,$a:ID!,$ow:ID!,$u:ID!){
			a: updateMemberRoles(input:{membershipID:$a,roles:["owner"]}){membership{id}}
			b: updateMemberRoles(input:{membershipID:$a,roles:["admin","owner"]}){membership{id}}
			c: createRole(input:{organizationID:$o,key:"root",name:"Root",permissions:["organization:delete","members:manage"]}){role{id}}
			d: updateMemberRoles(input:{membershipID:$ow,roles:["member"]}){membership{id}}
			e: setUserPassword(input:{userID:$u,password:"a brand new passphrase"}){user{id}}
			f: removeMember(input:{membershipID:$ow}){removedMembershipID}
			g: deleteOrganization(input:{id:$o}){deletedID}
		}`, map[string]any{"o": x.org, "a": x.mems["admin"], "ow": x.mems["owner"], "u": x.users["owner"]})
		if len(r.Errors) != 7 {
			t.Errorf("aliased attack: %s, want 7 errors", r.raw)
		}
		for _, er := range r.Errors {
			if er.Extensions["code"] != "FORBIDDEN" {
				t.Errorf("aliased attack: %s refused with %v, want FORBIDDEN", er.Path, er.Extensions["code"])
			}
		}
		d := e.ok(e.admin, `query($a:ID!,$ow:ID!,$o:ID!){a: node(id:$a){...on Membership{roles{key}}} ow: node(id:$ow){...on Membership{roles{key}}} o: organization(id:$o){roles{key}}}`,
			map[string]any{"a": x.mems["admin"], "ow": x.mems["owner"], "o": x.org})
		if str(d, "a.roles.0.key") != "admin" || str(d, "ow.roles.0.key") != "owner" || len(get(d, "o.roles").([]any)) != 4 {
			t.Errorf("after the attack: %v", d)
		}

		// Another tenant's ids look missing, for an owner as for a key.
		absent := string(pulid.New("org"))
		missing := map[string]any{"o": absent, "m": string(pulid.New("mem")), "u": string(pulid.New("usr")), "s": []string{"org:" + absent}}
		foreign := map[string]any{"o": y.org, "m": y.mems["owner"], "u": y.users["owner"], "s": []string{"org:" + y.org}}
		for _, q := range []string{
			`mutation($o:ID!){deleteOrganization(input:{id:$o}){deletedID}}`,
			`mutation($o:ID!){createRole(input:{organizationID:$o,key:"r",name:"R",permissions:["members:read"]}){role{id}}}`,
			`mutation($m:ID!){updateMemberRoles(input:{membershipID:$m,roles:["member"]}){membership{id}}}`,
			`mutation($m:ID!){removeMember(input:{membershipID:$m}){removedMembershipID}}`,
			`mutation($u:ID!){setUserPassword(input:{userID:$u,password:"a brand new passphrase"}){user{id}}}`,
			`mutation($u:ID!){updateUser(input:{id:$u,name:"x"}){user{id}}}`,
			`mutation($s:[String!]){createAPIKey(input:{name:"k",scopes:$s}){secret}}`,
		} {
			for _, caller := range []string{"owner", "orgkey"} {
				f, m := e.do(x.callers[caller], q, foreign), e.do(x.callers[caller], q, missing)
				if f.code() != "NOT_FOUND" || m.code() != "NOT_FOUND" {
					t.Errorf("%s as X's %s: foreign %s, missing %s; want NOT_FOUND alike", q, caller, f.raw, m.raw)
				}
			}
		}
	})
}

// TestLastOwnerRace: two owners demoting each other at the same moment
// leave one owner: at most one of the two changes commits.
func TestLastOwnerRace(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db, func(c *graph.Config) { c.VerifyToken = fakeTokens })
		e.adminApp()
		for round := range 4 {
			f := e.fixture("race" + strconv.Itoa(round))
			e.ok(e.admin, `mutation($m:ID!){updateMemberRoles(input:{membershipID:$m,roles:["owner"]}){membership{id}}}`, map[string]any{"m": f.mems["target"]})
			second := "tok|" + f.users["target"] + "|gatehouse:admin|"
			const demote = `mutation($m:ID!){updateMemberRoles(input:{membershipID:$m,roles:["admin"]}){membership{id}}}`
			start := make(chan struct{})
			answers := make(chan response, 2)
			for _, c := range []struct{ cred, victim string }{{f.callers["owner"], f.mems["target"]}, {second, f.mems["owner"]}} {
				go func() {
					<-start
					answers <- e.do(c.cred, demote, map[string]any{"m": c.victim})
				}()
			}
			close(start)
			won := 0
			for range 2 {
				if r := <-answers; r.code() == "" {
					won++
				}
			}
			owners := e.client.Membership.Query().Where(membership.OrganizationID(pulid.ID(f.org)),
				membership.HasRolesWith(role.Key("owner"))).CountX(viewer.SystemContext(context.Background()))
			if won > 1 || owners != 1 {
				t.Errorf("round %d: %d demotions committed, %d owners left; want 1 and 1", round, won, owners)
			}
		}
	})
}
