package tenants_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

func TestMissingProfile(t *testing.T) {
	u := &ent.User{Name: "Ada Lovelace", GivenName: "  "}
	for _, c := range []struct {
		wanted, missing []string
	}{
		{nil, nil},
		{[]string{"name"}, nil},
		{[]string{"family_name", "given_name", "name"}, []string{"given_name", "family_name"}},
		{[]string{"shoe_size"}, nil},
	} {
		if got := tenants.MissingProfile(u, c.wanted); !slices.Equal(got, c.missing) {
			t.Errorf("MissingProfile(%v) = %v, want %v", c.wanted, got, c.missing)
		}
	}
}

// UpdateOwnProfile trims, checks lengths, refuses blanks for the fields
// the caller requires, writes only the fields given, and audits which.
func TestUpdateOwnProfile(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		client := db.Client()
		svc := tenants.NewService(client)
		sys := viewer.SystemContext(context.Background())
		u := client.User.Create().SetEmail("ada@example.com").SetName("Ada").SaveX(sys)
		str := func(s string) *string { return &s }
		var bad *tenants.InputError
		for _, in := range []tenants.ProfileUpdate{
			{GivenName: str("   ")},
			{GivenName: nil},
			{GivenName: str(string(make([]byte, 101)))},
		} {
			if _, err := svc.UpdateOwnProfile(sys, u.ID, in, []string{"given_name"}); !errors.As(err, &bad) {
				t.Errorf("UpdateOwnProfile(%+v) = %v, want an InputError", in, err)
			}
		}
		got, err := svc.UpdateOwnProfile(sys, u.ID, tenants.ProfileUpdate{GivenName: str(" Ada "), FamilyName: str("Lovelace")}, []string{"given_name"})
		must(t, err)
		if got.Name != "Ada" || got.GivenName != "Ada" || got.FamilyName != "Lovelace" {
			t.Errorf("after the update: %q %q %q", got.Name, got.GivenName, got.FamilyName)
		}
		evs := client.AuditEvent.Query().AllX(sys)
		if len(evs) != 1 || evs[0].Action != "user.update" || evs[0].Actor != string(u.ID) ||
			!slices.Equal(toStrings(evs[0].Metadata["fields"]), []string{"given_name", "family_name"}) {
			t.Errorf("events %+v", evs)
		}
	})
}

func toStrings(v any) []string {
	var out []string
	switch vs := v.(type) {
	case []string:
		return vs
	case []any:
		for _, x := range vs {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	return out
}
