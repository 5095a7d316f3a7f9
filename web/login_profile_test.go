package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// Progressive profile: an application that needs the user's name gets it
// asked once, after authentication and before completion; only the fields
// it asked for can be set there; a blank or overlong one is asked again;
// a user who has them goes straight through; prompt=none cannot show the
// step and fails with interaction_required.
func TestProfileStep(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		ada := e.user(userSpec{email: "ada@example.com", password: pw})
		acme, globex := e.org("Acme", "acme"), e.org("Globex", "globex")
		e.member(ada, acme, membership.StatusACTIVE)
		e.member(ada, globex, membership.StatusACTIVE)
		wantsName := LoginRequest{FirstParty: true, ClientName: "Payroll", WantsOrganization: true, ProfileFields: []string{"name"}}

		b := e.browser()
		id := e.flow.add(wantsName)
		p := b.login(id, "ada@example.com", pw)
		wantStatus(t, p, http.StatusOK)
		if !strings.Contains(p.body, `action="/login/profile"`) || !strings.Contains(p.body, `autocomplete="name"`) ||
			strings.Contains(p.body, `name="given_name"`) || !strings.Contains(p.body, "Payroll would like to know your name") {
			t.Fatalf("not the profile step for a name:\n%s", p.body)
		}
		if _, ok := e.flow.completed(id); ok {
			t.Fatal("completed before the profile step")
		}
		step := func(form url.Values) response {
			form.Set("authRequest", id)
			form.Set("csrf", p.field("csrf"))
			form.Set("ticket", p.field("ticket"))
			return b.post("/login/profile", form)
		}
		// Another session's ticket, or none, gets nowhere.
		wantStatus(t, b.post("/login/profile", url.Values{"authRequest": {id}, "csrf": {p.field("csrf")}, "ticket": {"forged"}, "name": {"Mallory"}}), http.StatusForbidden)
		for _, bad := range []string{"", "   ", strings.Repeat("a", 201)} {
			r := step(url.Values{"name": {bad}})
			wantStatus(t, r, http.StatusBadRequest)
			if !strings.Contains(r.body, "Enter each name asked for") {
				t.Errorf("name %q: no error on the page:\n%s", bad, r.body)
			}
		}
		if got := e.client.User.GetX(sys(t.Context()), ada.ID); got.Name != "" {
			t.Fatalf("a refused name was saved: %q", got.Name)
		}
		// given_name was not asked: the form cannot set it.
		r := step(url.Values{"name": {"  Ada Lovelace "}, "given_name": {"Mallory"}})
		wantStatus(t, r, http.StatusOK) // two organizations: the picker comes next
		if !strings.Contains(r.body, `action="/login/organization"`) {
			t.Fatalf("after the profile step, not the organization picker:\n%s", r.body)
		}
		got := e.client.User.GetX(sys(t.Context()), ada.ID)
		if got.Name != "Ada Lovelace" || got.GivenName != "" {
			t.Fatalf("saved name %q, given name %q", got.Name, got.GivenName)
		}
		if evs := e.audits("user.update"); len(evs) != 1 || evs[0].Actor != string(ada.ID) {
			t.Errorf("user.update events: %+v", evs)
		}
		wantRedirect(t, b.post("/login/organization", url.Values{"authRequest": {id}, "csrf": {r.field("csrf")}, "ticket": {r.field("ticket")}, "organization": {string(acme.ID)}}), id)

		// Asked once: the next sign-in goes straight through, even with a
		// fresh browser.
		id = e.flow.add(wantsName)
		wantStatus(t, e.browser().login(id, "ada@example.com", pw), http.StatusOK) // the picker, no profile step
		id = e.flow.add(LoginRequest{FirstParty: true, RequestedOrganizationID: string(acme.ID), WantsOrganization: true, ProfileFields: []string{"name"}})
		wantRedirect(t, e.browser().login(id, "ada@example.com", pw), id)

		// Only the missing fields are asked for; prompt=none with a session
		// that lacks them cannot show the step.
		id = e.flow.add(LoginRequest{FirstParty: true, RequestedOrganizationID: string(acme.ID), WantsOrganization: true,
			ProfileFields: []string{"name", "given_name", "family_name"}})
		p = b.get("/login?authRequest=" + id) // the session from above is reused
		wantStatus(t, p, http.StatusOK)
		if strings.Contains(p.body, `autocomplete="name"`) || !strings.Contains(p.body, `autocomplete="given-name"`) || !strings.Contains(p.body, `autocomplete="family-name"`) {
			t.Fatalf("asked for the wrong fields:\n%s", p.body)
		}
		silentID := e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"none"}, RequestedOrganizationID: string(acme.ID),
			WantsOrganization: true, ProfileFields: []string{"family_name"}})
		wantFailure(t, e, b.get("/login?authRequest="+silentID), silentID, "interaction_required")

		wantRedirect(t, b.post("/login/profile", url.Values{"authRequest": {id}, "csrf": {p.field("csrf")}, "ticket": {p.field("ticket")},
			"given_name": {"Ada"}, "family_name": {"Lovelace"}}), id)
		if got := e.client.User.GetX(sys(t.Context()), ada.ID); got.Name != "Ada Lovelace" || got.GivenName != "Ada" || got.FamilyName != "Lovelace" {
			t.Errorf("after the second step: %q %q %q", got.Name, got.GivenName, got.FamilyName)
		}
	})
}
