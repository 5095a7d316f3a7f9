package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-id/gatehouse/ent/membership"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

const chromiumPath = "/usr/bin/chromium"

// chromium starts a fresh headless Chromium for t, or skips t when there is
// none (failing instead under GATEHOUSE_TEST_REQUIRE_ALL=1).
func chromium(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testkit.Missing(t, "the browser test needs %s (Debian package chromium)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// byLabel selects the input that the label with exactly this text names.
func byLabel(text string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//input[@id=//label[normalize-space()=%q]/@for]`, text))
}

func byButton(text string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//button[normalize-space()=%q]`, text))
}

func TestChromiumLogin(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		ctx := chromium(t)
		// The application lives on another origin, as it would.
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, "<!doctype html><title>app</title><p id=done>callback reached</p>")
		}))
		t.Cleanup(app.Close)
		e := newEnvAt(t, db, testkit.NewRealClock()) // Chromium's cookie store keeps real time
		e.flow.base = app.URL
		ada := e.user(userSpec{email: "ada@example.com", name: "Ada Lovelace", password: pw})
		acme, globex := e.org("Acme", "acme"), e.org("Globex", "globex")
		e.member(ada, acme, membership.StatusACTIVE)
		e.member(ada, globex, membership.StatusACTIVE)

		t.Run("password", func(t *testing.T) {
			id := e.flow.add(LoginRequest{FirstParty: true})
			err := chromedp.Do(ctx,
				chromedp.Navigate(e.srv.URL+"/login?authRequest="+id),
				chromedp.WaitVisible(byLabel("Email")),
				chromedp.SendKeys(byLabel("Email"), "ada@example.com"),
				chromedp.Click(byButton("Continue")), // identifier first
				chromedp.WaitVisible(byLabel("Password")),
				chromedp.SendKeys(byLabel("Password"), pw),
				chromedp.Click(byButton("Sign in")),
				chromedp.WaitVisible(chromedp.CSS("#done")),
			)
			if err != nil {
				t.Fatal(err)
			}
			loc, err := chromedp.Run(ctx, chromedp.Location())
			if err != nil {
				t.Fatal(err)
			}
			if want := app.URL + "/cb?code=code-for-" + id; loc != want {
				t.Errorf("landed on %s, want %s", loc, want)
			}
			if a, ok := e.flow.completed(id); !ok || a.UserID != ada.ID {
				t.Errorf("completed %v %+v", ok, a)
			}
		})

		t.Run("wrong password", func(t *testing.T) {
			id := e.flow.add(LoginRequest{FirstParty: true, Prompt: []string{"login"}})
			err := chromedp.Do(ctx,
				chromedp.Navigate(e.srv.URL+"/login?authRequest="+id),
				chromedp.WaitVisible(byLabel("Email")),
				chromedp.SendKeys(byLabel("Email"), "ada@example.com"),
				chromedp.Click(byButton("Continue")), // identifier first
				chromedp.WaitVisible(byLabel("Password")),
				chromedp.SendKeys(byLabel("Password"), "not it"),
				chromedp.Click(byButton("Sign in")),
			)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("[role=alert]")))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(msg, "Email or password is incorrect.") {
				t.Errorf("message %q", msg)
			}
		})

		t.Run("organization and consent", func(t *testing.T) {
			// The session from the first sign-in is reused: no form.
			id := e.flow.add(LoginRequest{ClientID: "third", ClientName: "Third Party", WantsOrganization: true,
				Scopes: []string{"openid", "email", "organization"}})
			err := chromedp.Do(ctx,
				chromedp.Navigate(e.srv.URL+"/login?authRequest="+id),
				chromedp.Click(`//button[.//span[normalize-space()="Globex"]]`),
				chromedp.Click(byButton("Allow")),
				chromedp.WaitVisible(chromedp.CSS("#done")),
			)
			if err != nil {
				t.Fatal(err)
			}
			loc, err := chromedp.Run(ctx, chromedp.Location())
			if err != nil {
				t.Fatal(err)
			}
			if want := app.URL + "/cb?code=code-for-" + id; loc != want {
				t.Errorf("landed on %s, want %s", loc, want)
			}
			if a, _ := e.flow.completed(id); a.OrganizationID != globex.ID {
				t.Errorf("organization %q, want %q", a.OrganizationID, globex.ID)
			}
		})
	})
}
