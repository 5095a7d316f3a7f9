package tenants_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// A login transaction gathers one user's factors for one request, under a
// token that changes with every factor; another user, another request or
// the passing of its lifetime starts over.
func TestLoginTransaction(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		clock := testkit.NewClock()
		client := db.Client()
		svc := tenants.NewService(client, tenants.WithClock(clock.Now))
		ctx := context.Background() // the browser has no viewer
		sys := viewer.SystemContext(ctx)
		ada := client.User.Create().SetEmail("ada@example.com").SaveX(sys)
		grace := client.User.Create().SetEmail("grace@example.com").SaveX(sys)
		const areq = "areq_01J0000000000000000000000"
		methods := func(tx *ent.LoginTransaction) []string { return tenants.AMR(tx.Factors) }

		tx1, tok1, err := svc.ProveFactor(ctx, tenants.LoginStep{AuthRequestID: areq, UserID: ada.ID,
			Factor: tenants.Factor{Method: tenants.FactorPassword, At: clock.Now()}})
		must(t, err)
		if tx1.UserID != ada.ID || !slices.Equal(methods(tx1), []string{"pwd"}) || !tx1.ExpiresAt.Equal(clock.Now().Add(tenants.LoginTransactionLifetime)) {
			t.Fatalf("first step: %+v", tx1)
		}
		if got, err := svc.LoginTransaction(ctx, tok1, areq); err != nil || got == nil || got.ID != tx1.ID {
			t.Fatalf("LoginTransaction = %v, %v", got, err)
		}
		if got, _ := svc.LoginTransaction(ctx, tok1, "areq_01J0000000000000000000001"); got != nil {
			t.Error("a transaction answered for another request")
		}

		clock.Advance(time.Minute)
		tx2, tok2, err := svc.ProveFactor(ctx, tenants.LoginStep{Token: tok1, AuthRequestID: areq, UserID: ada.ID,
			Factor: tenants.Factor{Method: tenants.FactorOTP, At: clock.Now()}})
		must(t, err)
		if tok2 == tok1 || !slices.Equal(methods(tx2), []string{"pwd", "otp"}) || !tx2.ExpiresAt.Equal(tx1.ExpiresAt) {
			t.Fatalf("second step: token rotated %v, %+v", tok2 != tok1, tx2)
		}
		if got, _ := svc.LoginTransaction(ctx, tok1, areq); got != nil {
			t.Error("the token before the step still names the transaction (ATO-07)")
		}

		// Another user's factor starts over: nothing carries across users.
		tx3, tok3, err := svc.ProveFactor(ctx, tenants.LoginStep{Token: tok2, AuthRequestID: areq, UserID: grace.ID,
			Factor: tenants.Factor{Method: tenants.FactorPassword, At: clock.Now()}})
		must(t, err)
		if tx3.UserID != grace.ID || !slices.Equal(methods(tx3), []string{"pwd"}) {
			t.Fatalf("another user: %+v", tx3)
		}

		// Expired: gone, and swept.
		clock.Advance(tenants.LoginTransactionLifetime + time.Second)
		if got, _ := svc.LoginTransaction(ctx, tok3, areq); got != nil {
			t.Error("an expired transaction answered")
		}
		if n, err := svc.SweepLoginTransactions(ctx); err != nil || n != 1 {
			t.Errorf("SweepLoginTransactions = %d, %v; want 1", n, err)
		}
	})
}
