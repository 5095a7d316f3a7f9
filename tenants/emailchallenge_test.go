package tenants_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/auditevent"
	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
	"github.com/gatehouse-id/gatehouse/tenants"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

var cheapParams = password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// An emailed code counts once, in the browser that asked, before it
// expires and within its attempts; the link counts once anywhere; a newer
// challenge ends the older one.
func TestEmailChallengeRules(t *testing.T) {
	const browser = "browser-token-of-the-asker"
	type step func(t *testing.T, svc *tenants.Service, clock *testkit.Clock, is tenants.IssuedChallenge) string
	code := func(token, typed string) step {
		return func(t *testing.T, svc *tenants.Service, _ *testkit.Clock, is tenants.IssuedChallenge) string {
			c := typed
			if c == "" {
				c = is.Code // this database's challenge
			}
			ch, why, err := svc.RedeemEmailCode(context.Background(), tenants.EmailLogin, string(is.Challenge.ID), token, c)
			must(t, err)
			if (ch == nil) == (why == "") {
				t.Fatalf("challenge %v with reason %q", ch, why)
			}
			return why
		}
	}
	link := func(t *testing.T, svc *tenants.Service, _ *testkit.Clock, is tenants.IssuedChallenge) string {
		_, why, err := svc.RedeemEmailLink(context.Background(), tenants.EmailLogin, is.LinkToken)
		must(t, err)
		return why
	}
	wait := func(d time.Duration) step {
		return func(t *testing.T, _ *tenants.Service, clock *testkit.Clock, _ tenants.IssuedChallenge) string {
			clock.Advance(d)
			return ""
		}
	}
	wrong := func(is tenants.IssuedChallenge) string {
		if is.Code == "000000" {
			return "000001"
		}
		return "000000"
	}
	wrongCode := func(t *testing.T, svc *tenants.Service, c *testkit.Clock, is tenants.IssuedChallenge) string {
		return code(browser, wrong(is))(t, svc, c, is)
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  []string // reason after each step, "" for success or a wait
	}{
		{"code once", []step{code(browser, ""), code(browser, "")}, []string{"", tenants.ReasonChallengeUsed}},
		{"link once", []step{link, link}, []string{"", tenants.ReasonChallengeUsed}},
		{"code then link", []step{code(browser, ""), link}, []string{"", tenants.ReasonChallengeUsed}},
		{"other browser", []step{code("another-browser", ""), code(browser, "")}, []string{tenants.ReasonOtherBrowser, ""}},
		{"wrong then right", []step{wrongCode, code(browser, "")}, []string{tenants.ReasonWrongCode, ""}},
		{"attempts run out", []step{wrongCode, wrongCode, wrongCode, wrongCode, wrongCode, code(browser, ""), link},
			[]string{tenants.ReasonWrongCode, tenants.ReasonWrongCode, tenants.ReasonWrongCode, tenants.ReasonWrongCode, tenants.ReasonWrongCode,
				tenants.ReasonTooManyAttempts, tenants.ReasonTooManyAttempts}},
		{"code in time", []step{wait(tenants.EmailCodeLifetime - time.Second), code(browser, "")}, []string{"", ""}},
		{"code expired", []step{wait(tenants.EmailCodeLifetime), code(browser, "")}, []string{"", tenants.ReasonChallengeExpired}},
		{"link expired", []step{wait(tenants.EmailCodeLifetime), link}, []string{"", tenants.ReasonChallengeExpired}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db testdb.Database) {
				clock := testkit.NewClock()
				svc := tenants.NewService(db.Client(), tenants.WithClock(clock.Now))
				is, err := svc.IssueEmailChallenge(context.Background(), tenants.EmailChallengeRequest{
					Purpose: tenants.EmailLogin, Email: "ada@example.com", BrowserToken: browser})
				must(t, err)
				if len(is.Code) != 6 || len(is.LinkToken) < 32 || is.Challenge.CodeHash == is.Code {
					t.Fatalf("issued %+v", is)
				}
				for i, s := range tc.steps {
					if got := s(t, svc, clock, is); got != tc.want[i] {
						t.Fatalf("step %d: reason %q, want %q", i, got, tc.want[i])
					}
				}
			})
		})
	}
}

// A newer challenge for the same address and purpose ends the older one;
// another purpose's challenge is not redeemed for this one.
func TestEmailChallengeNewestOnly(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		svc := tenants.NewService(db.Client())
		ctx := context.Background()
		req := tenants.EmailChallengeRequest{Purpose: tenants.EmailRecovery, Email: "ada@example.com", BrowserToken: "b"}
		first, err := svc.IssueEmailChallenge(ctx, req)
		must(t, err)
		second, err := svc.IssueEmailChallenge(ctx, req)
		must(t, err)
		if _, why, _ := svc.RedeemEmailLink(ctx, tenants.EmailRecovery, first.LinkToken); why != tenants.ReasonChallengeUsed {
			t.Errorf("older link: reason %q, want %q", why, tenants.ReasonChallengeUsed)
		}
		if _, why, _ := svc.RedeemEmailLink(ctx, tenants.EmailLogin, second.LinkToken); why != tenants.ReasonChallengePurpose {
			t.Errorf("recovery link redeemed for sign-in: reason %q", why)
		}
		if _, why, _ := svc.RedeemEmailLink(ctx, tenants.EmailRecovery, second.LinkToken); why != "" {
			t.Errorf("newest link: reason %q", why)
		}
	})
}

// Of 60 concurrent redemptions of one code, exactly one succeeds.
func TestEmailCodeRedeemedOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		svc := tenants.NewService(db.Client())
		ctx := context.Background()
		is, err := svc.IssueEmailChallenge(ctx, tenants.EmailChallengeRequest{Purpose: tenants.EmailLogin, Email: "ada@example.com", BrowserToken: "b"})
		must(t, err)
		var wins atomic.Int32
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		for range 60 {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				ready.Done()
				<-start
				ch, _, err := svc.RedeemEmailCode(ctx, tenants.EmailLogin, string(is.Challenge.ID), "b", is.Code)
				if err != nil {
					t.Error(err)
				}
				if ch != nil {
					wins.Add(1)
				}
			}()
		}
		ready.Wait()
		close(start)
		done.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d redemptions won, want 1", wins.Load())
		}
	})
}

// Signing up answers alike for a new and a registered address; the new one
// becomes a verified account with its password only once proved, and the
// registered one is signed in, untouched.
func TestSignup(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db testdb.Database) {
		client := db.Client()
		svc := tenants.NewService(client, tenants.WithPasswordParams(cheapParams))
		ctx := context.Background()
		sys := viewer.SystemContext(ctx)
		grace := client.User.Create().SetEmail("grace@example.com").SetName("Grace").SaveX(sys)

		if _, err := svc.StartSignup(ctx, tenants.SignupInput{Email: "ada@example.com", Password: "short"}); err == nil {
			t.Error("a 5-character password was accepted")
		}
		if _, err := svc.StartSignup(ctx, tenants.SignupInput{Email: "not an address"}); err == nil {
			t.Error("an invalid address was accepted")
		}

		st, err := svc.StartSignup(ctx, tenants.SignupInput{Email: " Ada@Example.com ", Password: "correct horse battery", BrowserToken: "b"})
		must(t, err)
		if st.Existing != nil || st.Email != "ada@example.com" {
			t.Fatalf("new address: %+v", st)
		}
		if n := client.User.Query().CountX(sys); n != 1 {
			t.Fatalf("%d users before the address is proved, want 1", n)
		}
		ch, why, err := svc.RedeemEmailCode(ctx, tenants.EmailSignup, string(st.Challenge.Challenge.ID), "b", st.Challenge.Code)
		must(t, err)
		if why != "" {
			t.Fatal(why)
		}
		ada, why, err := svc.CompleteSignup(ctx, ch)
		must(t, err)
		if why != "" || !ada.EmailVerified || ada.Email != "ada@example.com" {
			t.Fatalf("signed up %+v (%s)", ada, why)
		}
		if c, err := svc.VerifyPassword(ctx, "ada@example.com", "correct horse battery"); err != nil || c.User == nil {
			t.Fatalf("new account's password: %+v %v", c, err)
		}
		if n := client.AuditEvent.Query().Where(auditevent.Action("user.signup")).CountX(sys); n != 1 {
			t.Errorf("%d user.signup events, want 1", n)
		}

		st, err = svc.StartSignup(ctx, tenants.SignupInput{Email: "grace@example.com", Password: "another passphrase", BrowserToken: "b"})
		must(t, err)
		if st.Existing == nil || st.Existing.ID != grace.ID || st.Challenge.Challenge.Data != nil {
			t.Fatalf("registered address: %+v", st)
		}
		ch, _, err = svc.RedeemEmailLink(ctx, tenants.EmailSignup, st.Challenge.LinkToken)
		must(t, err)
		got, why, err := svc.CompleteSignup(ctx, ch)
		must(t, err)
		if why != "" || got.ID != grace.ID || got.PasswordHash != "" || got.Name != "Grace" {
			t.Fatalf("registered address signed up again: %+v (%s)", got, why)
		}
	})
}
