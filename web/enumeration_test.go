package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// The pages that take an address answer alike for one with an account and
// one without — status, body and cookies, once the address and per-request
// values are masked — and take as long: the medians of interleaved tries
// differ by less than 5 ms (SECURITY-CHECKLIST ATO-04). Every try comes
// from its own client address for its own account, so that no throttle
// shapes the timings.
func TestNoEnumeration(t *testing.T) {
	const tries = 60
	const maxGap = 5 * time.Millisecond
	forEachDB(t, func(t *testing.T, db testdb.Database) {
		e := newEnv(t, db)
		for i := range tries {
			e.user(userSpec{email: fmt.Sprintf("known%d@example.com", i), password: pw})
		}
		const token = "0123456789abcdefghijklmnopqrstuvwxyz0123"
		csrf := csrfField(token, "")
		h := e.web.Handler()
		mask := regexp.MustCompile(`(value|nonce)="[^"]*"|ech_[0-9A-Z]+`)
		for _, flow := range []struct {
			name, path string
			form       func(email string) url.Values
		}{
			{"password", "/login", func(email string) url.Values {
				return url.Values{"email": {email}, "password": {"not the password at all"}}
			}},
			{"identify", "/login/identify", func(email string) url.Values { return url.Values{"email": {email}} }},
			{"email code", "/login/email", func(email string) url.Values { return url.Values{"email": {email}} }},
			{"signup", "/signup", func(email string) url.Values {
				return url.Values{"email": {email}, "password": {"a long enough passphrase"}}
			}},
			{"recovery", recoverPath, func(email string) url.Values { return url.Values{"email": {email}} }},
		} {
			t.Run(flow.name, func(t *testing.T) {
				var took [2][]time.Duration
				var shape [2]string
				for i := range tries {
					for k, email := range []string{fmt.Sprintf("known%d@example.com", i), fmt.Sprintf("unknown%d@example.com", i)} {
						if i%2 == 1 {
							k = 1 - k // alternate which goes first
							email = []string{fmt.Sprintf("known%d@example.com", i), fmt.Sprintf("unknown%d@example.com", i)}[k]
						}
						form := flow.form(email)
						form.Set("csrf", csrf)
						req := httptest.NewRequest(http.MethodPost, flow.path, strings.NewReader(form.Encode()))
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:4000", k, i/250, i%250+1)
						req.AddCookie(&http.Cookie{Name: "gatehouse_csrf", Value: token})
						rec := httptest.NewRecorder()
						start := time.Now()
						h.ServeHTTP(rec, req)
						took[k] = append(took[k], time.Since(start))
						s := fmt.Sprintf("%d %v\n%s", rec.Code, rec.Result().Cookies(), mask.ReplaceAllString(strings.NewReplacer(email, "EMAIL", url.QueryEscape(email), "EMAIL").Replace(rec.Body.String()), "X"))
						if shape[k] == "" {
							shape[k] = s
						}
					}
				}
				if shape[0] != shape[1] {
					t.Errorf("answers differ:\nknown: %s\n---\nunknown: %s", shape[0], shape[1])
				}
				known, unknown := median(took[0]), median(took[1])
				gap := known - unknown
				if gap < 0 {
					gap = -gap
				}
				t.Logf("median known %v, unknown %v", known, unknown)
				if gap >= maxGap {
					t.Errorf("median known %v, unknown %v: gap %v ≥ %v", known, unknown, gap, maxGap)
				}
			})
		}
	})
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
