// Package hosted drives Gatehouse's hosted sign-in pages over plain HTTP,
// the way a person would: it follows redirects on the server's origin,
// fills the sign-in form, picks an organization, allows consent, and stops
// at the first redirect that leaves the server (the relying party's
// redirect_uri, or somewhere it should not go). The interop tests and the
// load generator (bench/load) both sign in with it.
package hosted

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/gatehouse-id/gatehouse/internal/htmlform"
)

// maxHops bounds one drive: a sign-in is a handful of requests.
const maxHops = 20

// Browser is an HTTP client with a cookie jar: the session cookie a
// sign-in sets is sent on the next drive.
type Browser struct {
	HTTP *http.Client
	// Origin is the server's scheme://host; redirects elsewhere end a drive.
	Origin          string
	Email, Password string
	// Organization is the one picked on the organization page; the first
	// offered when empty or not offered.
	Organization string
	// StopAtLogin makes Drive return at a sign-in form instead of filling it.
	StopAtLogin bool
}

// New returns a Browser for the server at issuer that signs in as
// email/password.
func New(issuer, email, password string) (*Browser, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("issuer %q is not an absolute URL", issuer)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &Browser{
		Origin: originOf(u), Email: email, Password: password,
		HTTP: &http.Client{
			Jar:           jar,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// Result is where a drive ended.
type Result struct {
	// Redirect is the first redirect target off the server's origin, nil
	// when the drive ended on a page.
	Redirect *url.URL
	// Status and Body are those of the last response.
	Status int
	Body   string
	// LoginShown tells whether the sign-in form was on the way.
	LoginShown bool
	// Hops lists every request, for failure messages.
	Hops []string
}

func (r Result) String() string {
	s := strings.Join(r.Hops, "\n  ")
	if r.Redirect != nil {
		return fmt.Sprintf("redirected off the server to %s after\n  %s", r.Redirect, s)
	}
	return fmt.Sprintf("ended on a %d page after\n  %s\nbody: %.400s", r.Status, s, strings.TrimSpace(stripTags(r.Body)))
}

// Drive starts at start (a URL on the server) and goes on as described on
// Browser. It ends at a redirect off the server, a page that is not one of
// the hosted forms, or an error page; the error is for transport failures
// and runaway drives only.
func (b *Browser) Drive(ctx context.Context, start string) (Result, error) {
	var res Result
	method, target := http.MethodGet, start
	var form url.Values
	for range maxHops {
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, target, body)
		if err != nil {
			return res, err
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Accept", "text/html")
		resp, err := b.HTTP.Do(req)
		if err != nil {
			return res, fmt.Errorf("%s %s: %w\n%s", method, target, err, res)
		}
		page, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		res.Status, res.Body = resp.StatusCode, string(page)
		hop := fmt.Sprintf("%s %s → %d", method, target, resp.StatusCode)
		if loc := resp.Header.Get("Location"); loc != "" {
			hop += " Location: " + loc
		}
		res.Hops = append(res.Hops, hop)

		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Location()
			if err != nil {
				return res, fmt.Errorf("%s %s: %d without a usable Location: %w", method, target, resp.StatusCode, err)
			}
			if originOf(loc) != b.Origin {
				res.Redirect = loc
				return res, nil
			}
			method, target, form = http.MethodGet, loc.String(), nil
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return res, nil
		}
		forms := htmlform.Parse(res.Body)
		if len(forms) == 0 {
			return res, nil
		}
		f := forms[0]
		form = f.Values()
		switch orgs := f.ButtonValues("organization"); {
		case f.Has("email") && !f.Has("password") && strings.HasSuffix(f.Action, "/login/identify"):
			// Identifier first: the email, then the page with the password.
			res.LoginShown = true
			if b.StopAtLogin {
				return res, nil
			}
			form.Set("email", b.Email)
		case f.Has("password"):
			res.LoginShown = true
			if b.StopAtLogin {
				return res, nil
			}
			form.Set("email", b.Email)
			form.Set("password", b.Password)
		case len(orgs) > 0:
			org := orgs[0]
			if slices.Contains(orgs, b.Organization) {
				org = b.Organization
			}
			form, _ = f.Submit("organization", org)
		case slices.Contains(f.ButtonValues("action"), "allow"):
			form, _ = f.Submit("action", "allow")
		default:
			return res, nil
		}
		base, err := url.Parse(target)
		if err != nil {
			return res, err
		}
		action, err := f.ActionURL(base)
		if err != nil {
			return res, fmt.Errorf("form action %q on %s: %w", f.Action, target, err)
		}
		method, target = http.MethodPost, action.String()
	}
	return res, fmt.Errorf("more than %d hops:\n%s", maxHops, res)
}

func originOf(u *url.URL) string { return u.Scheme + "://" + u.Host }

var tagRe = regexp.MustCompile(`(?s)<[^>]*>`)

// stripTags reduces an HTML page to its text, for messages.
func stripTags(s string) string {
	return strings.Join(strings.Fields(tagRe.ReplaceAllString(s, " ")), " ")
}
