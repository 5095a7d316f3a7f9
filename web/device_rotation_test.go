package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A device cookie survives a master-key rotation: signed under the old
// key, it is accepted while that key is still configured after the new
// one, and re-signed under the new key at the next sign-in, after which
// the old key can go.
func TestDeviceCookieSurvivesKeyRotation(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	pages := func(keys ...[]byte) *Web {
		return &Web{cfg: Config{DeviceKeys: keys}, deviceCk: "gatehouse_device"}
	}
	const email = "ada@example.com"
	// signIn remembers the device on w for a request carrying cookie and
	// returns the new cookie.
	signIn := func(w *Web, cookie *http.Cookie) *http.Cookie {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		w.rememberDevice(rec, r, email)
		cs := rec.Result().Cookies()
		if len(cs) != 1 {
			t.Fatalf("cookies %v, want the device cookie", cs)
		}
		return cs[0]
	}
	known := func(w *Web, cookie *http.Cookie, email string) bool {
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		r.AddCookie(cookie)
		return w.knownDevice(r, email) != "" && strings.Contains(w.throttleKeys(r, email)[0].Name, ":dev:")
	}

	before := signIn(pages(oldKey), nil)
	if !known(pages(oldKey), before, email) {
		t.Fatal("the device is not known under the key that signed it")
	}
	rotated := pages(newKey, oldKey)
	if !known(rotated, before, email) {
		t.Fatal("a device cookie signed before the rotation is refused after it")
	}
	if known(rotated, before, "eve@example.com") {
		t.Fatal("the cookie counts for an account it was never signed in to")
	}
	if known(pages(newKey), before, email) {
		t.Fatal("a cookie signed with a key no longer configured is accepted")
	}

	// The next sign-in re-signs under the new key, once per account.
	after := signIn(rotated, before)
	if n := strings.Count(after.Value, "."); n != 2 {
		t.Fatalf("cookie %q holds %d MACs, want 1", after.Value, n-1)
	}
	if !known(pages(newKey), after, email) {
		t.Fatal("the re-signed cookie is refused once the old key is gone")
	}
}
