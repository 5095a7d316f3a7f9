package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

// Fallback is the locale every other one is checked against and the one
// chosen when nothing else matches.
const Fallback = "en"

// maxAcceptLanguage bounds the Accept-Language header Match parses; a
// browser sends a few dozen bytes, and the parser's work grows with the
// number of tags.
const maxAcceptLanguage = 1024

//go:embed locales/*.json
var files embed.FS

// placeholder is how a message names a value to fill in: {name}.
var placeholder = regexp.MustCompile(`\{([a-zA-Z][a-zA-Z0-9_]*)\}`)

// Catalog is every shipped locale, loaded once at start and read
// concurrently afterwards.
type Catalog struct {
	locales map[string]*Locale
	tags    []string // Fallback first, then the others in order
	matcher language.Matcher
}

// Locale is one language's messages.
type Locale struct {
	tag      string
	messages map[string]string
}

// Load reads the embedded catalogs. It fails when a locale lacks a key the
// English catalog has (or has one it lacks), when a message names other
// placeholders than its English original, or when a file does not parse.
func Load() (*Catalog, error) {
	return load(files, "locales")
}

func load(fsys fs.FS, dir string) (*Catalog, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read catalogs: %w", err)
	}
	c := &Catalog{locales: make(map[string]*Locale)}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		tag, err := language.Parse(name)
		if err != nil || tag.String() != name {
			return nil, fmt.Errorf("catalog %s: the file name must be a canonical BCP 47 tag", e.Name())
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read catalog %s: %w", e.Name(), err)
		}
		var messages map[string]string
		if err := json.Unmarshal(data, &messages); err != nil {
			return nil, fmt.Errorf("parse catalog %s: %w", e.Name(), err)
		}
		c.locales[name] = &Locale{tag: name, messages: messages}
	}
	en, ok := c.locales[Fallback]
	if !ok {
		return nil, fmt.Errorf("read catalogs: no %s.json", Fallback)
	}
	var problems []string
	for _, tag := range slices.Sorted(maps.Keys(c.locales)) {
		if tag != Fallback {
			problems = append(problems, compare(en, c.locales[tag])...)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("catalogs disagree: %s", strings.Join(problems, "; "))
	}
	c.tags = append([]string{Fallback}, slices.DeleteFunc(slices.Sorted(maps.Keys(c.locales)), func(t string) bool { return t == Fallback })...)
	supported := make([]language.Tag, len(c.tags))
	for i, t := range c.tags {
		supported[i] = language.MustParse(t)
	}
	c.matcher = language.NewMatcher(supported)
	return c, nil
}

// compare lists how l differs from the English catalog en.
func compare(en, l *Locale) []string {
	var out []string
	for _, key := range slices.Sorted(maps.Keys(en.messages)) {
		msg, ok := l.messages[key]
		if !ok {
			out = append(out, fmt.Sprintf("%s lacks %q", l.tag, key))
			continue
		}
		if want, got := placeholders(en.messages[key]), placeholders(msg); !slices.Equal(want, got) {
			out = append(out, fmt.Sprintf("%s %q has placeholders %v, English has %v", l.tag, key, got, want))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(l.messages)) {
		if _, ok := en.messages[key]; !ok {
			out = append(out, fmt.Sprintf("%s has %q, which English lacks", l.tag, key))
		}
	}
	return out
}

// placeholders returns the distinct placeholder names of msg, sorted.
func placeholders(msg string) []string {
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(msg, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Tags lists the shipped locales, English first.
func (c *Catalog) Tags() []string { return slices.Clone(c.tags) }

// Locale returns the locale tagged tag, or the one of its base language
// (de for de-AT), or English: never nil.
func (c *Catalog) Locale(tag string) *Locale {
	if l, ok := c.locales[tag]; ok {
		return l
	}
	if t, err := language.Parse(tag); err == nil {
		if b, conf := t.Base(); conf != language.No {
			if l, ok := c.locales[b.String()]; ok {
				return l
			}
		}
	}
	return c.locales[Fallback]
}

// Match chooses the locale of a request. preferred is an explicit choice
// (a lang cookie or query value) and wins when it names a shipped locale or
// a region of one; otherwise the Accept-Language header decides, weighed by
// its q-values; otherwise English. A malformed header or choice counts as
// none.
func (c *Catalog) Match(acceptLanguage, preferred string) *Locale {
	if l := c.supported(preferred); l != nil {
		return l
	}
	if len(acceptLanguage) > maxAcceptLanguage {
		return c.locales[Fallback]
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return c.locales[Fallback]
	}
	_, i, conf := c.matcher.Match(tags...)
	if conf == language.No {
		return c.locales[Fallback]
	}
	return c.locales[c.tags[i]]
}

// supported is the shipped locale that preferred names, exactly or by its
// base language, or nil.
func (c *Catalog) supported(preferred string) *Locale {
	if preferred == "" || len(preferred) > 35 { // RFC 5646 §4.4.1: 35 characters suffice
		return nil
	}
	if l, ok := c.locales[preferred]; ok {
		return l
	}
	t, err := language.Parse(preferred)
	if err != nil {
		return nil
	}
	b, conf := t.Base()
	if conf == language.No {
		return nil
	}
	return c.locales[b.String()]
}

// Tag is the locale's BCP 47 tag, for <html lang> and the lang cookie.
func (l *Locale) Tag() string { return l.tag }

// Has reports whether the locale has a message for key, so a caller can
// check at start that every key it uses is shipped.
func (l *Locale) Has(key string) bool {
	_, ok := l.messages[key]
	return ok
}

// T returns the message for key with its placeholders filled from kv, pairs
// of a name and a value ("minutes", 10 fills {minutes}). A missing key
// returns the key itself, so that it shows on the page instead of an empty
// space; a placeholder without a value stays as it is. Values are inserted
// as text: html/template escapes T's result like any other string.
func (l *Locale) T(key string, kv ...any) string {
	msg, ok := l.messages[key]
	if !ok {
		return key
	}
	if len(kv) < 2 || !strings.Contains(msg, "{") {
		return msg
	}
	values := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if name, ok := kv[i].(string); ok {
			values[name] = fmt.Sprint(kv[i+1])
		}
	}
	return placeholder.ReplaceAllStringFunc(msg, func(m string) string {
		if v, ok := values[m[1:len(m)-1]]; ok {
			return v
		}
		return m
	})
}
