package mail

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/i18n"
)

func templates(t *testing.T) (*Templates, *i18n.Catalog) {
	t.Helper()
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	tp, err := NewTemplates(c, "Acme <ID>")
	if err != nil {
		t.Fatal(err)
	}
	return tp, c
}

// TestRenderEveryKind renders every kind in every locale and checks what a
// recipient must see: the subject from the catalog, each field's value in
// both parts, the language, and nothing a mail client would load or run.
func TestRenderEveryKind(t *testing.T) {
	tp, c := templates(t)
	for _, tag := range c.Tags() {
		loc := c.Locale(tag)
		for _, kind := range KindNames() {
			t.Run(tag+"/"+kind, func(t *testing.T) {
				m, err := tp.Render(loc, kind, "alice@example.com", SampleData(kind))
				if err != nil {
					t.Fatal(err)
				}
				if m.To != "alice@example.com" || m.Kind != kind || m.Subject != loc.T("mail."+kind+".subject", "product", "Acme <ID>") {
					t.Fatalf("%+v", m)
				}
				if !strings.Contains(m.HTML, `<html lang="`+tag+`">`) || !strings.Contains(m.HTML, "Acme &lt;ID&gt;") || !strings.Contains(m.Text, "Acme <ID>") {
					t.Errorf("language or product missing:\n%s\n%s", m.HTML, m.Text)
				}
				for field, v := range SampleData(kind) {
					want := map[string]string{"When": "2026-01-02 03:04 UTC", "Minutes": "15",
						"Method": loc.T("mfa.method.totp")}[field]
					if want == "" {
						want = v.(string)
					}
					if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
						t.Errorf("%s %q missing from a part:\n%s\n%s", field, want, m.Text, m.HTML)
					}
				}
				for _, bad := range []string{"<script", "<img", "<link", "<style", "src=", "{", "mail.", "<no value>"} {
					if strings.Contains(m.HTML, bad) || strings.Contains(m.Text, bad) {
						t.Errorf("a part contains %q:\n%s\n%s", bad, m.HTML, m.Text)
					}
				}
			})
		}
	}
}

// TestTemplateKeysShipped: every catalog key the templates name exists in
// every locale (NewTemplates refuses to start otherwise), and the list is
// not empty by a broken pattern.
func TestTemplateKeysShipped(t *testing.T) {
	_, c := templates(t)
	keys, err := templateKeys()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mail.common.footer", "mail.login_code.subject", "mail.signup_exists.sign_in_button"} {
		if !slices.Contains(keys, want) {
			t.Errorf("templateKeys lacks %s: %v", want, keys)
		}
	}
	if len(keys) < 40 {
		t.Fatalf("found only %d keys", len(keys))
	}
	for _, tag := range c.Tags() {
		for _, key := range keys {
			if !c.Locale(tag).Has(key) {
				t.Errorf("%s lacks %s", tag, key)
			}
		}
	}
}

type resetData struct {
	Link    string
	Minutes int
}

type notice struct {
	When      time.Time
	IP        string
	UserAgent string
	ResetLink string
}

func TestRenderData(t *testing.T) {
	tp, c := templates(t)
	en, de := c.Locale("en"), c.Locale("de")
	t.Run("struct", func(t *testing.T) {
		m, err := tp.Render(en, "password_reset", "a@example.com", resetData{Link: "https://id.example.com/r?t=1&u=2", Minutes: 30})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, "https://id.example.com/r?t=1&u=2") || !strings.Contains(m.HTML, `href="https://id.example.com/r?t=1&amp;u=2"`) ||
			!strings.Contains(m.Text, "30 minutes") {
			t.Fatalf("%s\n%s", m.Text, m.HTML)
		}
		if _, err := tp.Render(en, "password_reset", "a@example.com", &resetData{Link: "https://x.example"}); err == nil || !strings.Contains(err.Error(), "Minutes") {
			t.Fatalf("zero Minutes: %v", err)
		}
	})
	t.Run("optional reset link and a clipped user agent", func(t *testing.T) {
		ua := strings.Repeat("Agent<b>", 100)
		m, err := tp.Render(de, "new_device", "a@example.com", notice{When: time.Unix(0, 0), IP: "2001:db8::1", UserAgent: ua, ResetLink: "https://id.example.com/recover"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.HTML, `href="https://id.example.com/recover"`) || !strings.Contains(m.Text, "https://id.example.com/recover") ||
			!strings.Contains(m.Text, "Passwort zurücksetzen") && !strings.Contains(m.Text, "zurück") {
			t.Fatalf("no reset link:\n%s\n%s", m.Text, m.HTML)
		}
		if strings.Contains(m.Text, ua) || !strings.Contains(m.Text, "…") || strings.Contains(m.HTML, "<b>") || !strings.Contains(m.Text, "1970-01-01 00:00 UTC") {
			t.Fatalf("user agent not clipped or escaped:\n%s\n%s", m.Text, m.HTML)
		}
	})
	t.Run("escaping", func(t *testing.T) {
		m, err := tp.Render(en, "email_changed", "a@example.com", map[string]string{"NewEmail": `"><script>alert(1)</script>@example.com`})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;") {
			t.Fatalf("%s", m.HTML)
		}
		m, err = tp.Render(en, "login_code", "a@example.com", map[string]any{"Code": "123456", "Link": "javascript:alert(1)", "Minutes": 10})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(m.HTML, `href="javascript`) {
			t.Fatalf("a javascript: link survived:\n%s", m.HTML)
		}
	})
	t.Run("translated method", func(t *testing.T) {
		m, err := tp.Render(de, "mfa_added", "a@example.com", map[string]any{"Method": "passkey", "When": "gestern"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, "ein Passkey") || !strings.Contains(m.Text, "gestern") {
			t.Fatal(m.Text)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			kind string
			data any
			want string
		}{
			{"no_such_kind", map[string]any{}, "unknown kind"},
			{"login_code", map[string]any{"Code": "1", "Link": "https://x.example"}, "no Minutes"},
			{"login_code", map[string]any{"Code": "", "Link": "https://x.example", "Minutes": 1}, "no Code"},
			{"login_code", nil, "no Code"},
			{"login_code", 42, "no Code"},
			{"signup_exists", struct{ SignInLink string }{"https://x.example"}, "no ResetLink"},
			{"email_changed", map[string]any{"NewEmail": nil}, "no NewEmail"},
		} {
			if _, err := tp.Render(en, tc.kind, "a@example.com", tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s %v: got %v, want %q", tc.kind, tc.data, err, tc.want)
			}
		}
	})
	if _, err := NewTemplates(c, ""); err == nil {
		t.Error("an empty product name was accepted")
	}
	if _, err := NewTemplates(c, "mail.example {product}"); err != nil {
		t.Errorf("a product name that looks like a key or a placeholder: %v", err)
	}
}

// TestEndToEnd renders a message, queues it and delivers it over STARTTLS
// to the in-process server: what a sign-in code goes through.
func TestEndToEnd(t *testing.T) {
	tp, c := templates(t)
	srv, pool := startServer(t, serverOptions{startTLS: true, user: "gatehouse", pass: "secret"})
	s, err := NewSMTP(SMTPConfig{URL: "smtp://gatehouse:secret@mail.example.test", From: "Gätehouse <no-reply@id.example.com>",
		RootCAs: pool, DialContext: dialTo(srv.addr), Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	o := NewOutbox(s, testLogger(t))
	m, err := tp.Render(c.Match("de-AT,de;q=0.9", ""), "login_code", "alice@example.com", SampleData("login_code"))
	if err != nil {
		t.Fatal(err)
	}
	o.Enqueue(m)
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := srv.deliveries()
	if len(got) != 1 || !got[0].tls || got[0].user != "gatehouse" {
		t.Fatalf("%+v", got)
	}
	checkMessage(t, got[0].data, Message{To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML})
	if !strings.HasPrefix(m.Subject, "Ihr Anmeldecode") {
		t.Fatalf("subject %q", m.Subject)
	}
}

// FuzzRenderEscapes puts arbitrary strings where callers put addresses and
// links: the HTML part never gains markup or a script URL from them.
func FuzzRenderEscapes(f *testing.F) {
	for _, s := range []string{"<script>alert(1)</script>", "javascript:alert(1)", " JaVaScRiPt:alert(1)", `"><img src=x>`,
		"data:text/html,<b>", "https://id.example.com/?a=<b>&c='d'", "{product}", "\x00\xff"} {
		f.Add(s)
	}
	c, err := i18n.Load()
	if err != nil {
		f.Fatal(err)
	}
	tp, err := NewTemplates(c, "Acme")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return
		}
		for _, r := range []struct {
			kind string
			data map[string]any
		}{
			{"email_changed", map[string]any{"NewEmail": s}},
			{"login_code", map[string]any{"Code": s, "Link": s, "Minutes": 5}},
			{"new_device", map[string]any{"When": s, "IP": s, "UserAgent": s, "ResetLink": s}},
		} {
			m, err := tp.Render(c.Locale("de"), r.kind, "a@example.com", r.data)
			if err != nil {
				t.Fatal(err)
			}
			lower := strings.ToLower(m.HTML)
			for _, bad := range []string{"<script", "<img", `href="javascript:`, `href=" javascript:`, `href="data:`} {
				if strings.Contains(lower, bad) {
					t.Fatalf("%s with %q: HTML contains %s", r.kind, s, bad)
				}
			}
		}
	})
}
