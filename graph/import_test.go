package graph_test

import (
	"fmt"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

const importUsers = `mutation($u:[ImportUserInput!]!){importUsers(input:{users:$u}){imported errors{index email field message code}}}`

func TestImportUsers(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		org := e.createOrg("Acme", "acme")
		hash, err := bcrypt.GenerateFromPassword([]byte("legacy secret"), 10)
		if err != nil {
			t.Fatal(err)
		}
		users := []map[string]any{
			{"email": "ada@example.com", "emailVerified": true, "passwordHash": string(hash), "organizationID": org, "roleKey": "admin"},
			{"email": "grace@example.com", "passwordHash": "md5:5f4dcc3b5aa765d61d8327deb882cf99"},
			{"email": "ada@example.com"},
		}
		d := e.ok(e.admin, importUsers, map[string]any{"u": users})
		if n := get(d, "importUsers.imported"); n != float64(1) {
			t.Errorf("imported = %v, want 1", n)
		}
		want := []struct {
			index       float64
			field, code string
			email       string
		}{{1, "passwordHash", "BAD_USER_INPUT", "grace@example.com"}, {2, "email", "CONFLICT", "ada@example.com"}}
		errs, _ := get(d, "importUsers.errors").([]any)
		if len(errs) != len(want) {
			t.Fatalf("errors = %v", errs)
		}
		for i, w := range want {
			got := errs[i].(map[string]any)
			if got["index"] != w.index || got["field"] != w.field || got["code"] != w.code || got["email"] != w.email || got["message"] == "" {
				t.Errorf("errors[%d] = %v, want %+v", i, got, w)
			}
		}
		// The imported user signs in (bcrypt) through the service.
		if c, err := e.svc.VerifyPassword(t.Context(), "ada@example.com", "legacy secret"); err != nil || c.User == nil {
			t.Errorf("imported user signs in: %+v, %v", c, err)
		}
	})
}

func TestImportUsersIsForInstanceKeysOnly(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		org := e.createOrg("Acme", "acme")
		r := e.do(e.orgKey(org), importUsers, map[string]any{"u": []map[string]any{{"email": "ada@example.com", "organizationID": org}}})
		if r.code() != "FORBIDDEN" || r.Errors[0].Extensions["field"] != "users" {
			t.Fatalf("organization key: %s, want FORBIDDEN on users", r.raw)
		}
		if n := e.client.User.Query().CountX(viewer.SystemContext(t.Context())); n != 0 {
			t.Errorf("%d users after a refused import", n)
		}
	})
}

func TestImportUsersAtMost1000(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		users := make([]map[string]any, 1001)
		for i := range users {
			users[i] = map[string]any{"email": fmt.Sprintf("u%d@example.com", i)}
		}
		r := e.do(e.admin, importUsers, map[string]any{"u": users})
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "users" {
			t.Fatalf("1001 users: %.300s", r.raw)
		}
		d := e.ok(e.admin, importUsers, map[string]any{"u": users[:1000]})
		if n := get(d, "importUsers.imported"); n != float64(1000) {
			t.Errorf("1000 users: imported %v", n)
		}
	})
}
