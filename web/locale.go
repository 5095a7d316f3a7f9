package web

// The pages' language: every sentence they show is a key of the message
// catalogs (internal/i18n), in the language the browser chose with
// ?lang= (remembered in a cookie), else the one its Accept-Language
// prefers, else English.

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/i18n"
)

// text is one sentence of the pages' copy: a catalog key and the values
// of its placeholders (a value that is itself a text is translated too).
// The zero text shows nothing.
type text struct {
	Key  string
	Args []any
}

// say is the sentence key with its placeholders' values kv (name, value…).
func say(key string, kv ...any) text { return text{Key: key, Args: kv} }

// in translates t into l.
func (t text) in(l *i18n.Locale) string {
	args := make([]any, len(t.Args))
	for i, a := range t.Args {
		if nested, ok := a.(text); ok {
			a = nested.in(l)
		}
		args[i] = a
	}
	return l.T(t.Key, args...)
}

// language is one entry of the pages' language switcher.
type language struct {
	Tag, Name, Href string
	Current         bool
}

const langCookieLifetime = 400 * 24 * time.Hour

// locale is the language of the response to r: ?lang= when the catalogs
// have it (remembered in a cookie for the pages after), else the cookie,
// else Accept-Language.
func (w *Web) locale(rw http.ResponseWriter, r *http.Request) *i18n.Locale {
	chosen := ""
	if q := r.URL.Query().Get("lang"); q != "" && len(q) <= 16 {
		if l := w.cfg.Catalog.Match("", q); l.Tag() == strings.ToLower(q) {
			chosen = l.Tag()
			http.SetCookie(rw, &http.Cookie{Name: w.langCk, Value: chosen, Path: "/",
				MaxAge: int(langCookieLifetime / time.Second), Secure: w.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
	}
	if chosen == "" {
		if c, err := r.Cookie(w.langCk); err == nil && len(c.Value) <= 16 {
			chosen = c.Value
		}
	}
	return w.cfg.Catalog.Match(r.Header.Get("Accept-Language"), chosen)
}

// languages is the switcher for a page shown in l: links to the same
// address in each other language. A page that answers a form post has
// no address to link to, and no switcher.
func (w *Web) languages(r *http.Request, l *i18n.Locale) []language {
	if r.Method != http.MethodGet {
		return nil
	}
	var out []language
	for _, tag := range w.cfg.Catalog.Tags() {
		q := r.URL.Query()
		q.Set("lang", tag)
		u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		out = append(out, language{Tag: tag, Name: l.T("lang." + tag), Href: u.String(), Current: tag == l.Tag()})
	}
	return out
}

// Say is t in the page's language (templates: {{.Say .Error}}).
func (l *layout) Say(t text) string { return t.in(l.L) }

// ClientLabel names the application a sign-in continues to: its name, or
// a general phrase when it has none, or the account for a direct sign-in.
func (l *layout) ClientLabel(name, authRequest string) string {
	switch {
	case name != "":
		return name
	case authRequest == "":
		return l.L.T("page.client.account")
	}
	return l.L.T("page.client.default")
}

// ScopeText says what granting scope lets an application do.
func (l *layout) ScopeText(scope string) string {
	switch {
	case scope == "openid", scope == "profile", scope == "email", scope == "offline_access":
		return l.L.T("page.scope." + scope)
	case scope == "organization" || strings.HasPrefix(scope, "organization:"):
		return l.L.T("page.scope.organization")
	case scope == "gatehouse:admin":
		return l.L.T("page.scope.admin")
	}
	return l.L.T("page.scope.other", "scope", scope)
}

// waitText is how long to wait, in words.
func waitText(secs int) text {
	switch {
	case secs == 1:
		return say("page.wait.second")
	case secs < 120:
		return say("page.wait.seconds", "n", strconv.Itoa(secs))
	default:
		return say("page.wait.minutes", "n", strconv.Itoa((secs+59)/60))
	}
}
