package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"time"
)

// A device cookie lets a browser that has signed in to an account keep
// its own sign-in allowance for that account, so an attacker hammering the
// account cannot lock its owner out (SECURITY-CHECKLIST ATO-02). It holds
// a random device id and, for each account signed in to from this browser
// (the most recent deviceAccounts), a MAC of the device id and the
// account's email under the device key. Nothing in it names the account;
// without the key, no one can add an account to it. MACs are made with the
// first device key and accepted under any (Config.DeviceKeys), so a cookie
// outlives a master-key rotation.
//
//	v1.<device id>.<mac>.<mac>…
const (
	deviceAccounts = 8
	deviceLifetime = 400 * 24 * time.Hour // the longest browsers keep a cookie
	deviceIDLen    = 16
	deviceMACLen   = 16
)

var b64 = base64.RawURLEncoding

// deviceMAC is the MAC of id and email under key.
func deviceMAC(key []byte, id, email string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gatehouse/device\x00" + id + "\x00" + email))
	return b64.EncodeToString(m.Sum(nil)[:deviceMACLen])
}

// isDeviceMAC reports whether mac is id and email's MAC under any of the
// device keys: one made before a master-key rotation still counts while
// the old key is configured.
func (w *Web) isDeviceMAC(mac, id, email string) bool {
	for _, k := range w.cfg.DeviceKeys {
		if hmac.Equal([]byte(mac), []byte(deviceMAC(k, id, email))) {
			return true
		}
	}
	return false
}

// readDevice is the browser's device id and account MACs, or "" when it
// has no well-formed device cookie.
func (w *Web) readDevice(r *http.Request) (id string, macs []string) {
	c, err := r.Cookie(w.deviceCk)
	if err != nil || len(c.Value) > 64+deviceAccounts*32 {
		return "", nil
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) < 2 || parts[0] != "v1" {
		return "", nil
	}
	if raw, err := b64.DecodeString(parts[1]); err != nil || len(raw) != deviceIDLen {
		return "", nil
	}
	return parts[1], parts[2:]
}

// knownDevice is the browser's device id when it has signed in to the
// account of email before, otherwise "".
func (w *Web) knownDevice(r *http.Request, email string) string {
	id, macs := w.readDevice(r)
	if id == "" {
		return ""
	}
	for _, m := range macs {
		if w.isDeviceMAC(m, id, email) {
			return id
		}
	}
	return ""
}

// rememberDevice records, after a successful sign-in, that this browser
// has signed in to email's account, and returns the browser's device id.
func (w *Web) rememberDevice(rw http.ResponseWriter, r *http.Request, email string) string {
	id, macs := w.readDevice(r)
	if id == "" {
		raw := make([]byte, deviceIDLen)
		_, _ = rand.Read(raw)
		id, macs = b64.EncodeToString(raw), nil
	}
	// Signed with the newest key; this account's MAC under an older one
	// goes.
	m := deviceMAC(w.cfg.DeviceKeys[0], id, email)
	macs = slices.DeleteFunc(macs, func(s string) bool { return w.isDeviceMAC(s, id, email) })
	macs = append([]string{m}, macs...)
	macs = macs[:min(len(macs), deviceAccounts)]
	http.SetCookie(rw, &http.Cookie{
		Name: w.deviceCk, Value: "v1." + id + "." + strings.Join(macs, "."), Path: "/",
		MaxAge: int(deviceLifetime / time.Second), Secure: w.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	return id
}
