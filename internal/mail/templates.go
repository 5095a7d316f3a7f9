package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"reflect"
	"regexp"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/i18n"
)

//go:embed templates
var templateFiles embed.FS

// kinds lists every message Templates renders, with the fields its data
// must have (a struct's exported fields or a map's keys). Each must be set:
// a zero value is an error, so that a caller's slip never mails an empty
// code. A ResetLink field, where a kind does not require it, adds a
// "reset your password" button to the security notices.
var kinds = map[string][]string{
	"signup_verify":       {"Code", "Link", "Minutes"},
	"signup_exists":       {"SignInLink", "ResetLink"},
	"login_code":          {"Code", "Link", "Minutes"},
	"password_reset":      {"Link", "Minutes"},
	"password_changed":    {"When", "IP"},
	"mfa_added":           {"Method", "When"},
	"new_device":          {"When", "IP", "UserAgent"},
	"email_change_verify": {"Code", "Link", "Minutes"},
	"email_changed":       {"NewEmail"},
}

// maxUserAgent is how much of a User-Agent a notice quotes.
const maxUserAgent = 160

// Templates renders the messages of KindNames in every locale of a catalog:
// the copy comes from the catalog (mail.<kind>.*), the layout from the
// embedded templates, an HTML part (inline styles only, no images: mail
// clients drop style sheets and block remote content) and a text part.
type Templates struct {
	catalog *i18n.Catalog
	product string
	html    map[string]*htmltemplate.Template
	text    map[string]*texttemplate.Template
}

// view is what a template sees.
type view struct {
	L       *i18n.Locale
	Product string // the name the messages sign with
	Subject string
	D       any // the caller's data
}

// NewTemplates parses the templates and checks them against c: every key
// they name and each kind's subject must be in every locale, and each kind
// must render in every locale with sample data. product names the service in the copy ("Gatehouse", or the
// operator's brand).
func NewTemplates(c *i18n.Catalog, product string) (*Templates, error) {
	if strings.TrimSpace(product) == "" || strings.ContainsAny(product, "\r\n") {
		return nil, fmt.Errorf("mail templates: product name %q must be one non-empty line", product)
	}
	funcs := map[string]any{
		"opt":    optional,
		"when":   formatWhen,
		"method": method,
		"clip":   clip,
		"button": func(l *i18n.Locale, url, label string) button {
			return button{URL: url, Label: label, Fallback: l.T("mail.common.link_fallback")}
		},
		"facts": func(lines ...string) []string { return lines },
	}
	htmlBase, err := htmltemplate.New("").Funcs(funcs).Option("missingkey=error").ParseFS(templateFiles, "templates/mail.html")
	if err != nil {
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	textBase, err := texttemplate.New("").Funcs(funcs).Option("missingkey=error").ParseFS(templateFiles, "templates/mail.txt")
	if err != nil {
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	t := &Templates{catalog: c, product: product,
		html: make(map[string]*htmltemplate.Template), text: make(map[string]*texttemplate.Template)}
	for kind := range kinds {
		body := `{{define "body"}}{{template "` + kind + `" .}}{{end}}`
		h, err := htmltemplate.Must(htmlBase.Clone()).Parse(body)
		if err != nil {
			return nil, fmt.Errorf("mail template %s: %w", kind, err)
		}
		x, err := texttemplate.Must(textBase.Clone()).Parse(body)
		if err != nil {
			return nil, fmt.Errorf("mail template %s: %w", kind, err)
		}
		t.html[kind], t.text[kind] = h.Lookup("layout"), x.Lookup("layout")
		if t.html[kind] == nil || t.text[kind] == nil {
			return nil, fmt.Errorf("mail template %s: no layout", kind)
		}
	}
	keys, err := templateKeys()
	if err != nil {
		return nil, err
	}
	for _, tag := range c.Tags() {
		loc := c.Locale(tag)
		for _, key := range keys {
			if !loc.Has(key) {
				return nil, fmt.Errorf("mail templates: the %s catalog lacks %s", tag, key)
			}
		}
		for kind := range kinds {
			if _, err := t.Render(loc, kind, "someone@example.com", SampleData(kind)); err != nil {
				return nil, fmt.Errorf("mail template %s (%s): %w", kind, tag, err)
			}
		}
	}
	return t, nil
}

// catalogKey is a message key as the templates name it.
var catalogKey = regexp.MustCompile(`"(mail\.[a-z_.]+)"`)

// templateKeys lists the catalog keys the templates name, and each kind's
// subject.
func templateKeys() ([]string, error) {
	var keys []string
	for kind := range kinds {
		keys = append(keys, "mail."+kind+".subject")
	}
	for _, name := range []string{"templates/mail.html", "templates/mail.txt"} {
		data, err := templateFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("mail templates: %w", err)
		}
		for _, m := range catalogKey.FindAllStringSubmatch(string(data), -1) {
			keys = append(keys, m[1])
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// SampleData returns data with every field of kind set, for previews and
// tests.
func SampleData(kind string) map[string]any {
	sample := map[string]any{
		"Code": "123456", "Link": "https://id.example.com/verify?token=sample", "Minutes": 15,
		"SignInLink": "https://id.example.com/login", "ResetLink": "https://id.example.com/recover",
		"When": time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), "IP": "192.0.2.1",
		"UserAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", "Method": "totp",
		"NewEmail": "new@example.com",
	}
	out := make(map[string]any)
	for _, f := range kinds[kind] {
		out[f] = sample[f]
	}
	return out
}

// Render makes the message of kind to the address to in loc's language
// from data, a struct or a map with the fields Fields(kind) names.
func (t *Templates) Render(loc *i18n.Locale, kind, to string, data any) (Message, error) {
	fields, ok := kinds[kind]
	if !ok {
		return Message{}, fmt.Errorf("render mail: unknown kind %q", kind)
	}
	if loc == nil {
		loc = t.catalog.Locale(i18n.Fallback)
	}
	for _, f := range fields {
		v, ok := field(data, f)
		if !ok || v.IsZero() {
			return Message{}, fmt.Errorf("render mail %s: data has no %s", kind, f)
		}
	}
	v := view{L: loc, Product: t.product, Subject: loc.T("mail."+kind+".subject", "product", t.product), D: data}
	var text, html bytes.Buffer
	if err := t.text[kind].Execute(&text, v); err != nil {
		return Message{}, fmt.Errorf("render mail %s: %w", kind, err)
	}
	if err := t.html[kind].Execute(&html, v); err != nil {
		return Message{}, fmt.Errorf("render mail %s: %w", kind, err)
	}
	return Message{To: to, Subject: v.Subject, Text: text.String(), HTML: html.String(), Kind: kind}, nil
}

// field finds name in data, a struct (or pointer to one) or a map with
// string keys.
func field(data any, name string) (reflect.Value, bool) {
	v := reflect.ValueOf(data)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return reflect.Value{}, false
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		f := v.FieldByName(name)
		if !f.IsValid() || !f.CanInterface() {
			return reflect.Value{}, false
		}
		return f, true
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return reflect.Value{}, false
		}
		f := v.MapIndex(reflect.ValueOf(name).Convert(v.Type().Key()))
		if !f.IsValid() {
			return reflect.Value{}, false
		}
		for f.Kind() == reflect.Interface && !f.IsNil() {
			f = f.Elem()
		}
		return f, f.IsValid() && !(f.Kind() == reflect.Interface && f.IsNil())
	}
	return reflect.Value{}, false
}

// optional returns the string field name of data, or "" when data has no
// such field.
func optional(data any, name string) string {
	v, ok := field(data, name)
	if !ok || v.Kind() != reflect.String {
		return ""
	}
	return v.String()
}

type button struct{ URL, Label, Fallback string }

// formatWhen writes a time in UTC, unambiguous in every language.
func formatWhen(v any) string {
	switch w := v.(type) {
	case time.Time:
		return w.UTC().Format("2006-01-02 15:04 UTC")
	case *time.Time:
		if w != nil {
			return w.UTC().Format("2006-01-02 15:04 UTC")
		}
		return ""
	}
	return fmt.Sprint(v)
}

// method names a sign-in method in loc's language when the catalog knows
// it (mfa.method.totp), else as given.
func method(loc *i18n.Locale, m string) string {
	if loc.Has("mfa.method." + m) {
		return loc.T("mfa.method." + m)
	}
	return m
}

// clip shortens s (a User-Agent, which the client chooses) to
// maxUserAgent characters.
func clip(s string) string {
	r := []rune(strings.ToValidUTF8(s, "\uFFFD"))
	if len(r) <= maxUserAgent {
		return string(r)
	}
	return string(r[:maxUserAgent]) + "…"
}

// KindNames lists the kinds of message Templates renders, sorted.
func KindNames() []string {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// Fields lists the fields the data of kind must have set; nil for an
// unknown kind.
func Fields(kind string) []string { return slices.Clone(kinds[kind]) }
