package tenants

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse-id/gatehouse/internal/password"
)

func TestCheckNewPassword(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pw      string
		min     int
		context []string
		want    string // Code, or "" for accepted
	}{
		{"eight characters, default minimum", "kx7vq2mz", 0, nil, ""},
		{"seven characters", "kx7vq2m", 0, nil, PasswordTooShort},
		{"a policy below the floor counts as 8", "kx7vq2m", 6, nil, PasswordTooShort},
		{"the policy's minimum", "kx7vq2mzpl", 12, nil, PasswordTooShort},
		{"the policy's minimum met", "kx7vq2mzpl4w", 12, nil, ""},
		{"no composition rules: lower-case letters only", "correct horse battery staple", 15, nil, ""},
		{"64-character passphrase", strings.Repeat("long passphrase ", 4), 15, nil, ""},
		{"256 characters", strings.Repeat("ab9z", 64), 0, nil, ""},
		{"257 characters", strings.Repeat("ab9z", 64) + "q", 0, nil, PasswordTooLong},
		{"a megabyte", strings.Repeat("ab9z", 1<<18), 0, nil, PasswordTooLong},
		{"256 four-byte characters", strings.Repeat("😀", 256), 0, nil, ""},
		{"length counts NFKC runes: ﬁ is two", strings.Repeat("ﬁ", 4), 8, nil, ""},
		{"combining marks compose: 8 NFD runes are 4", strings.Repeat("e\u0301", 4), 8, nil, PasswordTooShort},
		{"only spaces", strings.Repeat(" ", 10), 0, nil, PasswordTooShort},
		{"spaces are allowed", "  spaced   out  ", 0, nil, ""},
		{"breached", "password", 0, nil, PasswordBreached},
		{"breached, other case", "PassWord", 0, nil, PasswordBreached},
		{"breached with digits and symbols added", "Password123!", 0, nil, PasswordBreached},
		{"breached once NFKC-normalized", "ｐａｓｓｗｏｒｄ", 0, nil, PasswordBreached},
		{"common keyboard walk", "qwertyuiop", 0, nil, PasswordBreached},
		{"email local part", "ada.lovelace2024", 0, []string{"ada.lovelace@example.com"}, PasswordContextual},
		{"a word of the local part", "xLovelace-93k", 0, []string{"ada.lovelace@example.com"}, PasswordContextual},
		{"organization name, any case", "WeLoveACME-corp!", 0, []string{"Acme Corp"}, PasswordContextual},
		{"short context words do not count", "ada-is-my-name-x", 0, []string{"ada@example.com"}, ""},
		{"domain is not context", "example-k7q2-xz", 0, []string{"ada@example.com"}, ""},
		{"invalid UTF-8", "kx7vq2mz\xff", 0, nil, PasswordInvalid},
		{"NUL", "kx7vq2mz\x00", 0, nil, PasswordInvalid},
		{"tab is fine", "kx7vq\t2mz", 0, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkNewPassword(tc.pw, tc.min, tc.context...)
			var in *InputError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "":
			case !errors.As(err, &in):
				t.Fatalf("err = %v, want an InputError with code %s", err, tc.want)
			case in.Field != "password" || in.Code != tc.want:
				t.Fatalf("err = %+v, want field password, code %s", in, tc.want)
			case !strings.HasPrefix(in.Reason, "must") && !strings.HasPrefix(in.Reason, "is"):
				t.Errorf("reason %q does not read as a sentence about the password", in.Reason)
			}
		})
	}
}

func TestCheckNewPasswordNamesTheMinimum(t *testing.T) {
	err := checkNewPassword("kx7vq2mzpl", 15)
	if err == nil || err.Error() != "password: must be at least 15 characters" {
		t.Errorf("err = %v", err)
	}
}

// FuzzCheckNewPassword: any input gets an answer, never a panic; what is
// accepted fits the bounds that the hash and the rules promise.
func FuzzCheckNewPassword(f *testing.F) {
	for _, s := range []string{"password", "Password123!", "correct horse battery staple", "ﬁﬁﬁﬁ", "\xff", "ada.lovelace",
		strings.Repeat("ﷺ", 100), strings.Repeat("a", 300), "e\u0301e\u0301e\u0301e\u0301"} {
		f.Add(s, 8, "ada.lovelace@example.com")
	}
	f.Fuzz(func(t *testing.T, pw string, min int, ctx string) {
		min = min % 200
		err := checkNewPassword(pw, min, ctx)
		var in *InputError
		if err != nil && (!errors.As(err, &in) || in.Field != "password" || in.Code == "") {
			t.Fatalf("err = %v: want an InputError on password with a code", err)
		}
		if err != nil {
			return
		}
		n := password.Normalize(pw)
		if runes := utf8.RuneCountInString(n); runes < max(min, DefaultPasswordMinLength) || runes > PasswordMaxLength || len(n) > password.MaxLength {
			t.Fatalf("accepted %q: %d runes, %d bytes", pw, runes, len(n))
		}
		if _, err := password.Hash(pw, password.Params{Memory: 8, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 16}); err != nil {
			t.Fatalf("accepted but cannot hash: %v", err)
		}
	})
}

func BenchmarkCheckNewPassword(b *testing.B) {
	pws := []string{"correct horse battery staple", "Password123!", "kx7vq2mzpl4w", "ada.lovelace2024"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = checkNewPassword(pws[i%len(pws)], 12, "ada.lovelace@example.com", "Acme Corp")
	}
}
