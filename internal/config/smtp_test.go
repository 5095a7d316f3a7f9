package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The SMTP URL may hold a password: like the Redis URL it comes from the
// environment or a 0600 file, never the command line, and a problem with
// it never shows the password.
func TestSMTPURL(t *testing.T) {
	const withPassword = "smtp://gatehouse:s3cret@mail.example.com:587"
	dir := t.TempDir()
	file := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("smtp.url", withPassword+"\n", 0o600)
	for _, c := range []struct {
		name  string
		env   map[string]string
		args  []string
		want  string // the URL loaded; "" when an error is wanted
		error string // in the error
	}{
		{"environment", map[string]string{"GATEHOUSE_SMTP_URL": withPassword}, nil, withPassword, ""},
		{"implicit TLS", map[string]string{"GATEHOUSE_SMTP_URL": "smtps://u:s3cret@mail.example.com"}, nil, "smtps://u:s3cret@mail.example.com", ""},
		{"loopback in the clear", map[string]string{"GATEHOUSE_SMTP_URL": "smtp://127.0.0.1:1025?tls=none"}, nil, "smtp://127.0.0.1:1025?tls=none", ""},
		{"file", map[string]string{"GATEHOUSE_SMTP_URL_FILE": good}, nil, withPassword, ""},
		{"file by flag", nil, []string{"--smtp-url-file", good}, withPassword, ""},
		{"both", map[string]string{"GATEHOUSE_SMTP_URL": withPassword, "GATEHOUSE_SMTP_URL_FILE": good}, nil, "", "not both"},
		{"readable by others", map[string]string{"GATEHOUSE_SMTP_URL_FILE": file("open.url", withPassword, 0o644)}, nil, "", "must not be accessible"},
		{"remote host in the clear", map[string]string{"GATEHOUSE_SMTP_URL": "smtp://u:s3cret@mail.example.com?tls=none"}, nil, "",
			`GATEHOUSE_SMTP_URL "smtp://u:xxxxx@mail.example.com?tls=none": tls=none is allowed only for a loopback host`},
		{"bad URL in a file", map[string]string{"GATEHOUSE_SMTP_URL_FILE": file("bad.url", "http://u:s3cret@mail.example.com", 0o600)}, nil, "",
			`the mail server URL in ` + filepath.Join(dir, "bad.url") + ` "http://u:xxxxx@mail.example.com": must be an smtp:// or smtps:// URL`},
		{"user without password", map[string]string{"GATEHOUSE_SMTP_URL": "smtp://s3cret@mail.example.com"}, nil, "", "both a user name and a password"},
		{"unparsable", map[string]string{"GATEHOUSE_SMTP_URL": "smtp://u:s3cret@[::1"}, nil, "", "GATEHOUSE_SMTP_URL: not a valid URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := load(t, c.env, c.args...)
			if c.want != "" {
				if err != nil || cfg.SMTPURL != c.want {
					t.Fatalf("Load = %v, %v; want %q", cfg, err, c.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.error) || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("Load error = %v; want it to say %q and never show the password", err, c.error)
			}
		})
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	Bind(fs, func(string) string { return "" })
	if err := fs.Parse([]string{"--smtp-url", withPassword}); err == nil {
		t.Fatal("--smtp-url was accepted on the command line")
	}
}

func TestSMTPFrom(t *testing.T) {
	for _, from := range []string{"no-reply@acme.example", "Acme <no-reply@acme.example>", "=?utf-8?q?G=C3=A4te?= <a@b.example>"} {
		if c, err := load(t, nil, "--smtp-from", from); err != nil || c.SMTPFrom != from {
			t.Errorf("%q: %v", from, err)
		}
	}
	for _, from := range []string{"acme", "Acme <no-reply>", "a@b.example, c@d.example"} {
		if _, err := load(t, map[string]string{"GATEHOUSE_SMTP_FROM": from}); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_SMTP_FROM") {
			t.Errorf("%q: %v", from, err)
		}
	}
}
