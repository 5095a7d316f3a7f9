package interop

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// browser is an HTTP client with a cookie jar that signs Ada in on the
// hosted pages the way a person would: it follows redirects on the
// server's origin, fills the login form, picks an organization, allows
// consent, and stops at the first redirect that leaves the server (the
// relying party's redirect_uri, or somewhere it should not go).
type browser struct {
	t      *testing.T
	s      *Server
	http   *http.Client
	origin string
	// Organization is the one picked on the organization page; the first
	// offered when empty.
	Organization string
	// StopAtLogin makes drive return at a login form instead of filling it.
	StopAtLogin bool
}

func newBrowser(t *testing.T, s *Server) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{
		t: t, s: s, origin: s.Issuer, Organization: s.OrgID,
		http: &http.Client{
			Jar:           jar,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// result is where a drive ended.
type result struct {
	// Redirect is the first redirect target off the server's origin, nil
	// when the drive ended on a page.
	Redirect *url.URL
	// Status and Body are those of the last response.
	Status int
	Body   string
	// LoginShown tells whether the login form was on the way.
	LoginShown bool
	// Hops lists every request, for failure messages.
	Hops []string
}

func (r result) String() string {
	s := strings.Join(r.Hops, "\n  ")
	if r.Redirect != nil {
		return fmt.Sprintf("redirected off the server to %s after\n  %s", r.Redirect, s)
	}
	return fmt.Sprintf("ended on a %d page after\n  %s\nbody: %.400s", r.Status, s, strings.TrimSpace(stripTags(r.Body)))
}

// drive starts at start (a URL on the server) and goes on as described on
// browser.
func (b *browser) drive(start string) result {
	b.t.Helper()
	var res result
	method, target := http.MethodGet, start
	var form url.Values
	for range 20 {
		var req *http.Request
		if method == http.MethodPost {
			req, _ = http.NewRequestWithContext(b.t.Context(), method, target, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req, _ = http.NewRequestWithContext(b.t.Context(), method, target, nil)
		}
		req.Header.Set("Accept", "text/html")
		resp, err := b.http.Do(req)
		if err != nil {
			b.t.Fatalf("%s %s: %v\n%s", method, target, err, res)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		res.Status, res.Body = resp.StatusCode, string(body)
		hop := fmt.Sprintf("%s %s → %d", method, target, resp.StatusCode)
		if loc := resp.Header.Get("Location"); loc != "" {
			hop += " Location: " + loc
		}
		res.Hops = append(res.Hops, hop)

		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Location()
			if err != nil {
				b.t.Fatalf("%s %s: %d without a usable Location: %v", method, target, resp.StatusCode, err)
			}
			if originOf(loc) != b.origin {
				res.Redirect = loc
				return res
			}
			method, target, form = http.MethodGet, loc.String(), nil
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return res
		}
		f, ok := parseForm(res.Body)
		if !ok {
			return res
		}
		switch {
		case f.has("password"):
			res.LoginShown = true
			if b.StopAtLogin {
				return res
			}
			f.values.Set("email", userEmail)
			f.values.Set("password", userPassword)
		case len(f.buttons["organization"]) > 0:
			org := f.buttons["organization"][0]
			for _, v := range f.buttons["organization"] {
				if v == b.Organization {
					org = v
				}
			}
			f.values.Set("organization", org)
		case contains(f.buttons["action"], "allow"):
			f.values.Set("action", "allow")
		default:
			return res
		}
		base, _ := url.Parse(target)
		action, err := base.Parse(f.action)
		if err != nil || f.action == "" {
			action = base
		}
		method, target, form = http.MethodPost, action.String(), f.values
	}
	b.t.Fatalf("more than 20 hops:\n%s", res)
	return res
}

func originOf(u *url.URL) string { return u.Scheme + "://" + u.Host }

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// form is the first <form> of a page: its action, the values its inputs
// carry, and the values of its named buttons.
type form struct {
	action  string
	fields  []string
	values  url.Values
	buttons map[string][]string
}

func (f form) has(name string) bool { return contains(f.fields, name) }

var (
	formRe   = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRe  = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	buttonRe = regexp.MustCompile(`(?is)<button\b([^>]*)>`)
	attrRe   = regexp.MustCompile(`(?is)([a-z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))`)
	tagRe    = regexp.MustCompile(`(?s)<[^>]*>`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(s, -1) {
		m[strings.ToLower(a[1])] = html.UnescapeString(a[2] + a[3] + a[4])
	}
	return m
}

func parseForm(page string) (form, bool) {
	m := formRe.FindStringSubmatch(page)
	if m == nil {
		return form{}, false
	}
	f := form{action: attrs(m[1])["action"], values: url.Values{}, buttons: map[string][]string{}}
	for _, in := range inputRe.FindAllStringSubmatch(m[2], -1) {
		a := attrs(in[1])
		if a["name"] == "" {
			continue
		}
		f.fields = append(f.fields, a["name"])
		f.values.Set(a["name"], a["value"])
	}
	for _, bt := range buttonRe.FindAllStringSubmatch(m[2], -1) {
		a := attrs(bt[1])
		if a["name"] != "" {
			f.buttons[a["name"]] = append(f.buttons[a["name"]], a["value"])
		}
	}
	return f, true
}

func stripTags(s string) string {
	return strings.Join(strings.Fields(tagRe.ReplaceAllString(s, " ")), " ")
}

// jwtClaims decodes the payload of a compact JWS without verifying it.
func jwtClaims(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// jwtHeader decodes the protected header of a compact JWS.
func jwtHeader(token string) (map[string]any, error) {
	h, _, ok := strings.Cut(token, ".")
	if !ok {
		return nil, errors.New("not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(raw, &m)
}
