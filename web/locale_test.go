package web

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/i18n"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// Every catalog key the pages name — in templates and in Go — is in every
// language's catalog, so no page ever shows a bare key.
func TestEveryPageKeyIsInTheCatalogs(t *testing.T) {
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`"((?:page|lang)\.[a-z0-9_.]+[a-z0-9_])"`)
	// A page title given as a sentence, not a key, shows in English to
	// everyone.
	literalTitle := regexp.MustCompile(`w\.render\(rw, r, [^,]+, page[A-Za-z]+, "[^p]`)
	seen := 0
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") ||
			!(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".html")) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if m := literalTitle.Find(b); m != nil {
			t.Errorf("%s: %s: a title that is not a catalog key", path, m)
		}
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			seen++
			if strings.HasSuffix(m[1], ".") {
				continue // a prefix completed at run time ("page.password." + code)
			}
			for _, tag := range c.Tags() {
				if !c.Locale(tag).Has(m[1]) {
					t.Errorf("%s: %q is not in the %s catalog", path, m[1], tag)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 50 {
		t.Fatalf("only %d keys found: is the pattern still right?", seen)
	}
}

// The pages speak the browser's language (Accept-Language), or the one
// chosen with ?lang=, which a cookie then remembers; the switcher links to
// the same page in the others.
func TestPageLanguage(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		b := e.browser()
		b.header = http.Header{"Accept-Language": {"de-AT,de;q=0.9,en;q=0.5"}}
		r := b.get("/login")
		if !strings.Contains(r.body, `<html lang="de">`) || !strings.Contains(r.body, "<h1>Anmelden</h1>") ||
			!strings.Contains(r.body, `href="/login?lang=en"`) {
			t.Errorf("German page:\n%s", r.body)
		}
		r = b.get("/signup?lang=en")
		if !strings.Contains(r.body, `<html lang="en">`) || !strings.Contains(r.body, "Create your account") {
			t.Errorf("?lang=en:\n%s", r.body)
		}
		if r = b.get("/login"); !strings.Contains(r.body, "<h1>Sign in</h1>") {
			t.Errorf("the choice was not remembered:\n%s", r.body)
		}
		if r = e.browser().get("/login?lang=xx"); !strings.Contains(r.body, `<html lang="en">`) {
			t.Errorf("an unknown language:\n%s", r.body)
		}
	})
}
