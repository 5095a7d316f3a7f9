package tenants_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/ent/consent"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// The hosted pages' changes and their audit events commit together: a
// consent or a sign-out whose event cannot be written does not happen, and
// one whose event is written is recorded exactly once.
func TestChangeAndEventCommitTogether(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		now := testkit.NewClock().Now()
		client := db.Client()
		svc := tenants.NewService(client, tenants.WithClock(func() time.Time { return now }))
		sys := viewer.SystemContext(context.Background())
		ada := client.User.Create().SetEmail("ada@example.com").SaveX(sys)
		ses, _, err := svc.CreateSession(sys, tenants.NewSession{UserID: ada.ID, AMR: []string{"pwd"}})
		must(t, err)
		broken := tenants.Event{} // no action: WriteAudit refuses it
		for _, tc := range []struct {
			name   string
			action string
			// change makes the change with event; happened reports whether it stands.
			change   func(event *tenants.Event) error
			happened func() bool
		}{
			{
				name: "consent", action: "consent.grant",
				change: func(ev *tenants.Event) error {
					return svc.GrantConsent(sys, ada.ID, "thirdparty", []string{"openid"}, ev)
				},
				happened: func() bool {
					return client.Consent.Query().Where(consent.UserID(ada.ID), consent.ClientID("thirdparty")).ExistX(sys)
				},
			},
			{
				name: "sign-out", action: "user.logout",
				change: func(ev *tenants.Event) error {
					_, err := svc.RevokeSession(sys, ses.ID, ada.ID, "logout", ev)
					return err
				},
				happened: func() bool { return client.Session.GetX(sys, ses.ID).RevokedAt != nil },
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := tc.change(&broken); err == nil {
					t.Fatal("the change succeeded although its event could not be written")
				}
				if tc.happened() {
					t.Fatal("the change stands without its event")
				}
				ev := tenants.Event{Action: tc.action, Actor: string(ada.ID), ActorType: "user"}
				if err := tc.change(&ev); err != nil {
					t.Fatal(err)
				}
				if !tc.happened() {
					t.Fatal("the change did not happen")
				}
				if n := client.AuditEvent.Query().Where(auditevent.Action(tc.action)).CountX(sys); n != 1 {
					t.Fatalf("%d %s events, want 1", n, tc.action)
				}
			})
		}
	})
}
