package tenants_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/ent/user"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

type importEnv struct {
	client *ent.Client
	svc    *tenants.Service
	admin  context.Context
	sys    context.Context
	acme   *ent.Organization
}

func newImportEnv(t *testing.T, db testdb.Database) *importEnv {
	t.Helper()
	now := testkit.NewClock().Now()
	e := &importEnv{client: db.Client(), admin: viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Instance, Actor: "key_admin"}),
		sys: viewer.SystemContext(context.Background())}
	e.svc = tenants.NewService(e.client, tenants.WithClock(func() time.Time { return now }), tenants.WithPasswordParams(cheapParams))
	var err error
	if e.acme, err = e.svc.CreateOrganization(e.admin, tenants.CreateOrganizationInput{Name: "Acme", Slug: "acme"}); err != nil {
		t.Fatal(err)
	}
	return e
}

func bcryptOf(t *testing.T, pw string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestImportUsersRows(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newImportEnv(t, db)
		if _, _, err := e.svc.CreateUser(e.admin, tenants.CreateUserInput{Email: "taken@example.com"}); err != nil {
			t.Fatal(err)
		}
		argon, _ := password.Hash("an argon2id password", cheapParams)
		legacy := bcryptOf(t, "a legacy password", 10)
		missing := pulid.ID("or_01NOSUCHORGANIZATION0000")
		rows := []tenants.ImportUser{
			0:  {Email: "Ada@Example.com", EmailVerified: true, Name: ptr("Ada Lovelace"), PasswordHash: legacy, OrganizationID: &e.acme.ID, RoleKey: "admin"},
			1:  {Email: "grace@example.com", PasswordHash: argon, OrganizationID: &e.acme.ID},
			2:  {Email: "nopassword@example.com", GivenName: ptr("No"), FamilyName: ptr("Password")},
			3:  {Email: "not an email"},
			4:  {Email: "md5@example.com", PasswordHash: "5f4dcc3b5aa765d61d8327deb882cf99"},
			5:  {Email: "cheap@example.com", PasswordHash: bcryptOf(t, "x", bcrypt.MinCost)},
			6:  {Email: "taken@example.com"},
			7:  {Email: "ada@example.com"},
			8:  {Email: "orphan@example.com", OrganizationID: &missing},
			9:  {Email: "norole@example.com", OrganizationID: &e.acme.ID, RoleKey: "wizard"},
			10: {Email: "rolealone@example.com", RoleKey: "admin"},
			11: {Email: "longname@example.com", Name: ptr(strings.Repeat("n", 201))},
		}
		res, err := e.svc.ImportUsers(e.admin, rows)
		if err != nil {
			t.Fatal(err)
		}
		if res.Imported != 3 {
			t.Errorf("imported %d, want 3", res.Imported)
		}
		type want struct {
			field    string
			conflict bool
		}
		wantErrs := map[int]want{3: {"email", false}, 4: {"passwordHash", false}, 5: {"passwordHash", false}, 6: {"email", true},
			7: {"email", true}, 8: {"organizationID", false}, 9: {"roleKey", false}, 10: {"roleKey", false}, 11: {"name", false}}
		if len(res.Errors) != len(wantErrs) {
			t.Errorf("errors: %v; want one for each of rows %v", res.Errors, wantErrs)
		}
		for i, ie := range res.Errors {
			w, ok := wantErrs[ie.Index]
			var c *tenants.ConflictError
			switch {
			case !ok:
				t.Errorf("row %d refused: %v", ie.Index, ie)
			case ie.Field() != w.field || errors.As(ie.Err, &c) != w.conflict:
				t.Errorf("row %d: %v (field %q); want field %q, conflict %v", ie.Index, ie.Err, ie.Field(), w.field, w.conflict)
			case ie.Email != rows[ie.Index].Email:
				t.Errorf("row %d: email %q, want it as given", ie.Index, ie.Email)
			case i > 0 && res.Errors[i-1].Index >= ie.Index:
				t.Errorf("errors not in row order: %v", res.Errors)
			}
		}
		ada := e.client.User.Query().Where(user.Email("ada@example.com")).OnlyX(e.sys)
		if !ada.EmailVerified || ada.Name != "Ada Lovelace" || ada.PasswordHash != legacy {
			t.Errorf("ada = %+v: want the row's fields and hash as given", ada)
		}
		m := e.client.Membership.Query().Where(membership.UserID(ada.ID)).WithRoles().OnlyX(e.sys)
		if m.OrganizationID != e.acme.ID || m.Status != membership.StatusACTIVE || len(m.Edges.Roles) != 1 || m.Edges.Roles[0].Key != "admin" {
			t.Errorf("ada's membership = %+v, roles %v; want ACTIVE admin of acme", m, m.Edges.Roles)
		}
		grace := e.client.User.Query().Where(user.Email("grace@example.com")).OnlyX(e.sys)
		if m := e.client.Membership.Query().Where(membership.UserID(grace.ID)).WithRoles().OnlyX(e.sys); m.Edges.Roles[0].Key != tenants.RoleMember {
			t.Errorf("grace's role = %s, want member by default", m.Edges.Roles[0].Key)
		}
		events := e.client.AuditEvent.Query().Where(auditevent.Action("user.import")).AllX(e.sys)
		if len(events) != 3 {
			t.Fatalf("%d user.import events, want one per imported user", len(events))
		}
		for _, ev := range events {
			if ev.TargetID == ada.ID.String() && (ev.Metadata["password"] != "bcrypt" || ev.Metadata["role"] != "admin" || ev.ActorType != "instance") {
				t.Errorf("ada's event = %+v", ev)
			}
			if strings.Contains(ev.Metadata["password"].(string), "$") {
				t.Errorf("event holds a hash: %v", ev.Metadata)
			}
		}
	})
}

func TestImportUsersInChunks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newImportEnv(t, db)
		n := tenants.BulkChunk + 5
		rows := make([]tenants.ImportUser, n)
		for i := range rows {
			rows[i] = tenants.ImportUser{Email: "u" + strings.Repeat("x", i%7) + "-" + itoa(i) + "@example.com", OrganizationID: &e.acme.ID}
		}
		rows[n-1].Email = rows[3].Email // a duplicate in the second chunk of the first
		res, err := e.svc.ImportUsers(e.admin, rows)
		if err != nil {
			t.Fatal(err)
		}
		if res.Imported != n-1 || len(res.Errors) != 1 || res.Errors[0].Index != n-1 {
			t.Fatalf("imported %d, errors %v; want %d and the duplicate", res.Imported, res.Errors, n-1)
		}
		if got := e.client.Membership.Query().CountX(e.sys); got != n-1 {
			t.Errorf("%d memberships, want %d", got, n-1)
		}
		if got := e.client.AuditEvent.Query().Where(auditevent.Action("user.import")).CountX(e.sys); got != n-1 {
			t.Errorf("%d events, want %d", got, n-1)
		}
	})
}

func itoa(i int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		if i /= 10; i == 0 {
			return string(b)
		}
	}
}

func TestImportUsersNeedsAnInstanceViewer(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newImportEnv(t, db)
		org := viewer.NewContext(context.Background(), viewer.ScopedTo("key_acme", e.acme.ID))
		_, err := e.svc.ImportUsers(org, []tenants.ImportUser{{Email: "ada@example.com", OrganizationID: &e.acme.ID}})
		var f *tenants.ForbiddenError
		if !errors.As(err, &f) || !errors.Is(err, tenants.ErrForbidden) || !strings.Contains(f.Reason, "instance") {
			t.Fatalf("scoped import: %v, want a ForbiddenError saying only an instance key may", err)
		}
		if e.client.User.Query().CountX(e.sys) != 0 {
			t.Error("a refused import created users")
		}
	})
}

func TestImportedBcryptUserSignsInAndIsUpgraded(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newImportEnv(t, db)
		first72 := strings.Repeat("s", 72)
		rows := []tenants.ImportUser{
			{Email: "ada@example.com", PasswordHash: bcryptOf(t, "legacy secret", 10)},
			{Email: "grace@example.com", PasswordHash: strings.Replace(bcryptOf(t, first72, 10), "$2a$", "$2y$", 1)},
		}
		if res, err := e.svc.ImportUsers(e.admin, rows); err != nil || res.Imported != 2 {
			t.Fatalf("import: %+v, %v", res, err)
		}
		// A wrong password leaves the bcrypt hash alone.
		if c, err := e.svc.VerifyPassword(context.Background(), "ada@example.com", "Legacy secret"); err != nil || c.User != nil || c.Reason != tenants.ReasonBadPassword {
			t.Fatalf("wrong password: %+v, %v", c, err)
		}
		if h := e.client.User.Query().Where(user.Email("ada@example.com")).OnlyX(e.sys).PasswordHash; !strings.HasPrefix(h, "$2a$") {
			t.Fatalf("hash after a failed sign-in = %.7s, want the bcrypt hash kept", h)
		}
		c, err := e.svc.VerifyPassword(context.Background(), "ada@example.com", "legacy secret")
		if err != nil || c.User == nil {
			t.Fatalf("right password: %+v, %v", c, err)
		}
		h := e.client.User.Query().Where(user.Email("ada@example.com")).OnlyX(e.sys).PasswordHash
		if !strings.HasPrefix(h, "$argon2id$") {
			t.Fatalf("hash after sign-in = %.10s…, want argon2id", h)
		}
		if c, err := e.svc.VerifyPassword(context.Background(), "ada@example.com", "legacy secret"); err != nil || c.User == nil {
			t.Fatalf("sign-in against the upgraded hash: %+v, %v", c, err)
		}
		// bcrypt reads 72 bytes: the 72-byte password signs in, a longer one
		// equal in its first 72 bytes does not.
		if c, _ := e.svc.VerifyPassword(context.Background(), "grace@example.com", first72+"tail"); c.User != nil {
			t.Error("a password equal in the first 72 bytes signed in")
		}
		if c, err := e.svc.VerifyPassword(context.Background(), "grace@example.com", first72); err != nil || c.User == nil {
			t.Errorf("the 72-byte password ($2y$): %+v, %v", c, err)
		}
	})
}

func TestNFKCAndNFKDPasswordsBothSignIn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newImportEnv(t, db)
		const nfkd, nfkc = "A\u030angstro\u0308m sa\u0301ga 42", "\u00c5ngstr\u00f6m s\u00e1ga 42"
		if _, _, err := e.svc.CreateUser(e.admin, tenants.CreateUserInput{Email: "ada@example.com", Password: ptr(nfkd)}); err != nil {
			t.Fatal(err)
		}
		for _, pw := range []string{nfkd, nfkc} {
			if c, err := e.svc.VerifyPassword(context.Background(), "ada@example.com", pw); err != nil || c.User == nil {
				t.Errorf("sign in with %+q: %+v, %v", pw, c, err)
			}
		}
	})
}

func TestPasswordRulesWhereverAPasswordIsSet(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		e := newImportEnv(t, db)
		if _, err := e.svc.UpdateOrganizationPolicy(e.admin, tenants.UpdateOrganizationPolicyInput{OrganizationID: e.acme.ID,
			PasswordMinLength: ptr(15)}); err != nil {
			t.Fatal(err)
		}
		code := func(err error) string {
			var in *tenants.InputError
			if errors.As(err, &in) && in.Field == "password" {
				return in.Code
			}
			if err != nil {
				return err.Error()
			}
			return ""
		}
		create := func(email, pw string, org *pulid.ID) string {
			_, _, err := e.svc.CreateUser(e.admin, tenants.CreateUserInput{Email: email, Password: &pw, OrganizationID: org})
			return code(err)
		}
		for _, tc := range []struct {
			email, pw string
			org       *pulid.ID
			want      string
		}{
			{"solo@example.com", "kx7vq2mz", nil, ""},                                            // no organization: 8
			{"short@example.com", "kx7vq2mzpl4w", &e.acme.ID, tenants.PasswordTooShort},          // acme: 15
			{"long@example.com", "kx7vq2mzpl4wqrt", &e.acme.ID, ""},                              // 15
			{"common@example.com", "Password123!", nil, tenants.PasswordBreached},                //
			{"lovelace@example.com", "xx-lovelace-yy", nil, tenants.PasswordContextual},          // the email
			{"org@example.com", "we are acme and proud", &e.acme.ID, tenants.PasswordContextual}, // the organization
		} {
			if got := create(tc.email, tc.pw, tc.org); got != tc.want {
				t.Errorf("CreateUser(%s, %q) = %q, want %q", tc.email, tc.pw, got, tc.want)
			}
		}
		// SetUserPassword: the strictest policy of the user's organizations.
		solo := e.client.User.Query().Where(user.Email("solo@example.com")).OnlyX(e.sys)
		if _, err := e.svc.SetUserPassword(e.admin, tenants.SetUserPasswordInput{UserID: solo.ID, Password: "zq8wv3kx"}); err != nil {
			t.Errorf("8 characters outside any organization: %v", err)
		}
		if n, err := e.svc.PasswordMinLength(e.admin, solo.ID); n != 8 || err != nil {
			t.Errorf("PasswordMinLength outside any organization = %d, %v; want 8", n, err)
		}
		if _, err := e.svc.AddMember(e.admin, tenants.AddMemberInput{OrganizationID: e.acme.ID, UserID: solo.ID}); err != nil {
			t.Fatal(err)
		}
		if n, err := e.svc.PasswordMinLength(e.admin, solo.ID); n != 15 || err != nil {
			t.Errorf("PasswordMinLength in acme = %d, %v; want acme's 15", n, err)
		}
		for pw, want := range map[string]string{"zq8wv3kxmn": tenants.PasswordTooShort, "iloveyou": tenants.PasswordBreached,
			"solo solo solo solo": tenants.PasswordContextual, "zq8wv3kxmn5tb7y": ""} {
			_, err := e.svc.SetUserPassword(e.admin, tenants.SetUserPasswordInput{UserID: solo.ID, Password: pw})
			if got := code(err); got != want {
				t.Errorf("SetUserPassword(%q) = %q, want %q", pw, got, want)
			}
		}
		// The pages' check: the same rule.
		if got := code(e.svc.CheckNewPassword(context.Background(), "Password123!", 8)); got != tenants.PasswordBreached {
			t.Errorf("CheckNewPassword = %q", got)
		}
	})
}
