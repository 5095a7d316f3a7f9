package i18n

import (
	"bytes"
	"encoding/json"
	"html/template"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func catalog(t testing.TB) *Catalog {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTags(t *testing.T) {
	if got := catalog(t).Tags(); !slices.Equal(got, []string{"en", "de"}) {
		t.Fatalf("Tags() = %v, want [en de]", got)
	}
}

func TestMatch(t *testing.T) {
	c := catalog(t)
	cases := []struct {
		name, header, preferred, want string
	}{
		{"no header", "", "", "en"},
		{"German", "de", "", "de"},
		{"English", "en-US,en;q=0.9", "", "en"},
		{"region falls back to its language", "de-AT", "", "de"},
		{"Swiss German region", "de-CH,fr;q=0.8", "", "de"},
		{"q-values order the choice", "en;q=0.5, de;q=0.9", "", "de"},
		{"first of equal weight", "de, en", "", "de"},
		{"unsupported first, supported later", "fr-FR,fr;q=0.9,de;q=0.7,en;q=0.3", "", "de"},
		{"only unsupported", "fr, ja;q=0.8", "", "en"},
		{"q=0 refuses a language", "de;q=0, fr", "", "en"},
		{"wildcard", "*", "", "en"},
		{"garbage header", "¡¿ not a language ;;; q=x", "", "en"},
		{"unparsable q-value", "de;q=abc", "", "en"},
		{"case-insensitive", "DE-at", "", "de"},
		{"preferred wins", "en-US,en;q=0.9", "de", "de"},
		{"preferred region", "en", "de-AT", "de"},
		{"preferred English over a German browser", "de-DE", "en", "en"},
		{"unsupported preferred is ignored", "de", "fr", "de"},
		{"garbage preferred is ignored", "de", "<script>", "de"},
		{"overlong header", strings.Repeat("de-DE-x-abcdefgh,", 200), "", "en"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Match(tc.header, tc.preferred).Tag(); got != tc.want {
				t.Errorf("Match(%q, %q) = %s, want %s", tc.header, tc.preferred, got, tc.want)
			}
		})
	}
}

func TestLocale(t *testing.T) {
	c := catalog(t)
	for tag, want := range map[string]string{"de": "de", "de-AT": "de", "en-GB": "en", "fr": "en", "": "en", "???": "en"} {
		if got := c.Locale(tag).Tag(); got != want {
			t.Errorf("Locale(%q) = %s, want %s", tag, got, want)
		}
	}
}

func TestT(t *testing.T) {
	c := catalog(t)
	en, de := c.Locale("en"), c.Locale("de")
	if got := en.T("mail.password_reset.expires", "minutes", 30); got != "The link expires in 30 minutes and works only once." {
		t.Errorf("en: %q", got)
	}
	if got := de.T("mail.password_reset.expires", "minutes", 30); got != "Der Link ist 30 Minuten gültig und funktioniert nur einmal." {
		t.Errorf("de: %q", got)
	}
	// A missing key shows itself; a missing value leaves its placeholder;
	// a value is never read as a placeholder itself.
	if got := en.T("no.such.key", "x", 1); got != "no.such.key" {
		t.Errorf("missing key: %q", got)
	}
	if got := en.T("mail.password_reset.expires"); !strings.Contains(got, "{minutes}") {
		t.Errorf("missing value: %q", got)
	}
	if got := en.T("mail.email_changed.intro", "product", "{email}", "email", "a@example.com"); !strings.HasPrefix(got, "The email address of your {email} account was changed to a@example.com.") {
		t.Errorf("value re-read as placeholder: %q", got)
	}
	if got := en.T("mail.common.ip", "ip"); got != "IP address: {ip}" {
		t.Errorf("odd kv: %q", got)
	}
}

// TestTemplate checks the call the hosted pages make, and that html/template
// escapes what T returns.
func TestTemplate(t *testing.T) {
	tpl := template.Must(template.New("").Parse(`<p>{{.L.T "mail.email_changed.intro" "product" "Acme" "email" .Email}}</p>`))
	var b bytes.Buffer
	if err := tpl.Execute(&b, map[string]any{"L": catalog(t).Locale("en"), "Email": "<b>x</b>@example.com"}); err != nil {
		t.Fatal(err)
	}
	if want := "changed to &lt;b&gt;x&lt;/b&gt;@example.com."; !strings.Contains(b.String(), want) {
		t.Fatalf("got %s, want it to contain %s", b.String(), want)
	}
}

// TestCatalogsAgree holds every shipped locale to English key for key and
// placeholder for placeholder, and every file to one value per key.
func TestCatalogsAgree(t *testing.T) {
	c := catalog(t)
	en := c.locales["en"]
	for _, tag := range c.Tags() {
		l := c.locales[tag]
		if problems := compare(en, l); len(problems) > 0 {
			t.Errorf("%s: %v", tag, problems)
		}
		for key, msg := range l.messages {
			if strings.TrimSpace(msg) == "" {
				t.Errorf("%s %q is empty", tag, key)
			}
			if strings.Count(msg, "{") != len(placeholder.FindAllString(msg, -1)) {
				t.Errorf("%s %q has a brace that is not a placeholder: %q", tag, key, msg)
			}
		}
		data, err := files.ReadFile("locales/" + tag + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if dup := duplicateKey(t, data); dup != "" {
			t.Errorf("%s.json has %q twice", tag, dup)
		}
	}
}

func duplicateKey(t *testing.T, data []byte) string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	seen := map[string]bool{}
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Token(); err != nil {
			t.Fatal(err)
		}
		if seen[k.(string)] {
			return k.(string)
		}
		seen[k.(string)] = true
	}
	return ""
}

// TestLoadRefuses shows that Load fails on the mistakes a translator makes.
func TestLoadRefuses(t *testing.T) {
	en := `{"a": "Hello {name}", "b": "Bye"}`
	cases := []struct {
		name  string
		de    string
		other map[string]string
		want  string
	}{
		{"missing key", `{"a": "Hallo {name}"}`, nil, `de lacks "b"`},
		{"extra key", `{"a": "Hallo {name}", "b": "Tschüss", "c": "x"}`, nil, `de has "c", which English lacks`},
		{"renamed placeholder", `{"a": "Hallo {nom}", "b": "Tschüss"}`, nil, `de "a" has placeholders [nom], English has [name]`},
		{"dropped placeholder", `{"a": "Hallo", "b": "Tschüss"}`, nil, `de "a" has placeholders [], English has [name]`},
		{"not JSON", `{"a": `, nil, "parse catalog de.json"},
		{"not flat", `{"a": {"b": "c"}}`, nil, "parse catalog de.json"},
		{"bad file name", `{"a": "Hallo {name}", "b": "Tschüss"}`, map[string]string{"german.json": en}, "canonical BCP 47"},
		{"no English", `{"a": "Hallo {name}", "b": "Tschüss"}`, map[string]string{"en.json": ""}, "no en.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{"l/en.json": {Data: []byte(en)}, "l/de.json": {Data: []byte(tc.de)}}
			for name, data := range tc.other {
				if data == "" {
					delete(fsys, "l/"+name)
					continue
				}
				fsys["l/"+name] = &fstest.MapFile{Data: []byte(data)}
			}
			_, err := load(fsys, "l")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := load(fstest.MapFS{"l/en.json": {Data: []byte(en)}, "l/de.json": {Data: []byte(`{"b": "Tschüss", "a": "{name}, hallo {name}"}`)}}, "l"); err != nil {
		t.Fatalf("a placeholder may move and repeat: %v", err)
	}
}

// FuzzMatch feeds arbitrary headers and choices: Match never panics and
// always returns a shipped locale.
func FuzzMatch(f *testing.F) {
	for _, s := range []string{"", "de", "de-AT,de;q=0.9,en;q=0.8", "*;q=0.1", "x-klingon", "de;q=", ";;;,,,", "en-US-u-rg-dezzzz", "zh-Hant-TW", strings.Repeat("a-", 600), "de;q=0.5;q=0.9", "\xff\xfe"} {
		f.Add(s, "")
		f.Add("en", s)
	}
	c := catalog(f)
	f.Fuzz(func(t *testing.T, header, preferred string) {
		l := c.Match(header, preferred)
		if l == nil || !slices.Contains(c.Tags(), l.Tag()) {
			t.Fatalf("Match(%q, %q) = %v", header, preferred, l)
		}
	})
}
