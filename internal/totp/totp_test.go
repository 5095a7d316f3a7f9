package totp

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// rfcKey is the SHA1 seed of RFC 6238 Appendix B.
var rfcKey = []byte("12345678901234567890")

// TestCodeRFC6238 checks the test vectors of RFC 6238 Appendix B (SHA1),
// at eight digits as printed and at six, the last six of them.
func TestCodeRFC6238(t *testing.T) {
	for _, tc := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		step := Step(time.Unix(tc.unix, 0))
		if got := Code(rfcKey, step, 8); got != tc.code {
			t.Errorf("Code(T=%d, 8) = %s, want %s", tc.unix, got, tc.code)
		}
		if got := Code(rfcKey, step, 6); got != tc.code[2:] {
			t.Errorf("Code(T=%d, 6) = %s, want %s", tc.unix, got, tc.code[2:])
		}
	}
}

func TestVerifyWindow(t *testing.T) {
	now := time.Unix(1111111111, 0)
	cur := Step(now)
	for _, tc := range []struct {
		name string
		step int64
		ok   bool
	}{
		{"current", cur, true},
		{"previous", cur - 1, true},
		{"next", cur + 1, true},
		{"two back", cur - 2, false},
		{"two ahead", cur + 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step, ok := Verify(rfcKey, Code(rfcKey, tc.step, Digits), now)
			if ok != tc.ok || (ok && step != tc.step) {
				t.Fatalf("Verify = (%d, %v), want (%d, %v)", step, ok, tc.step, tc.ok)
			}
		})
	}
	for _, bad := range []string{"", "12345", "1234567", "12345a", "１２３４５６", " 123456"} {
		if _, ok := Verify(rfcKey, bad, now); ok {
			t.Errorf("Verify(%q) matched", bad)
		}
	}
}

func TestSecret(t *testing.T) {
	s := NewSecret()
	if len(s) != 32 {
		t.Fatalf("secret %q: %d characters, want 32", s, len(s))
	}
	if s == NewSecret() {
		t.Fatal("two secrets are equal")
	}
	k, err := DecodeSecret(strings.ToLower(Group(s)))
	if err != nil || len(k) != SecretSize {
		t.Fatalf("DecodeSecret(grouped) = %x, %v", k, err)
	}
	for _, bad := range []string{"", "ABC", "!!!!", "MFRGGZDF"} {
		if _, err := DecodeSecret(bad); err == nil {
			t.Errorf("DecodeSecret(%q) accepted", bad)
		}
	}
}

func TestKeyURI(t *testing.T) {
	u, err := url.Parse(KeyURI("Acme Corp", "ada@example.com", "JBSWY3DPEHPK3PXP"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Acme Corp:ada@example.com" {
		t.Fatalf("URI %s: scheme %q host %q path %q", u, u.Scheme, u.Host, u.Path)
	}
	q := u.Query()
	if q.Get("secret") != "JBSWY3DPEHPK3PXP" || q.Get("issuer") != "Acme Corp" || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Fatalf("query %v", q)
	}
}

func TestQRSVG(t *testing.T) {
	svg, err := QRSVG(KeyURI("Gatehouse", "ada@example.com", NewSecret()), `QR code <for> "you"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg ", `role="img"`, `<title id="qr-title">QR code &lt;for&gt; &quot;you&quot;</title>`, "<path ", "</svg>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("svg lacks %q", want)
		}
	}
	if strings.Contains(svg, "data:") || strings.Contains(svg, "<script") {
		t.Error("svg holds a data: URL or a script")
	}
	if n := strings.Count(svg, "z"); n < 100 || len(svg) > 16000 {
		t.Errorf("svg has %d runs of dark modules in %d bytes", n, len(svg))
	}
}

// FuzzVerify: whatever is typed, Verify never panics and matches only a
// string of Digits digits.
func FuzzVerify(f *testing.F) {
	for _, s := range []string{"287082", "", "12345", "1234567", "abcdef", "２８７０８２", "28708\x00", " 287082"} {
		f.Add(s)
	}
	now := time.Unix(59, 0)
	f.Fuzz(func(t *testing.T, code string) {
		step, ok := Verify(rfcKey, code, now)
		if !ok {
			return
		}
		if len(code) != Digits || strings.Trim(code, "0123456789") != "" || step < Step(now)-Skew || step > Step(now)+Skew {
			t.Fatalf("Verify(%q) matched step %d", code, step)
		}
	})
}
