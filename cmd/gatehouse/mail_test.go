package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-id/gatehouse/internal/config"
	"github.com/gatehouse-id/gatehouse/internal/mail"
	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

// TestMessagingChoosesSender: SMTP when configured; the log and /dev/mail
// in dev mode or on a loopback issuer listening on loopback; otherwise an error in the log for
// every message, which nobody receives.
func TestMessagingChoosesSender(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     config.Config
		mailbox bool
		log     string // in the log once a message is sent
		notLog  string
	}{
		{"smtp", config.Config{Issuer: "https://id.example.com", SMTPURL: "smtps://u:p@mail.example.com"}, false, "mail goes to an SMTP server", "123456"},
		{"dev", config.Config{Issuer: "https://id.example.com", Dev: true}, true, "123456", "not configured"},
		{"loopback issuer", config.Config{Issuer: "http://127.0.0.1:8080", Addr: "127.0.0.1:8080"}, true, "123456", "not configured"},
		{"loopback issuer on every interface", config.Config{Issuer: "http://localhost:8080", Addr: ":8080"}, false, "mail is not configured", "123456"},
		{"nowhere", config.Config{Issuer: "https://id.example.com"}, false, "mail is not configured", "123456"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &testkit.LogBuffer{}
			m, err := openMessaging(&tc.cfg, slog.New(slog.NewTextHandler(logs, nil)), prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			if (m.mailbox != nil) != tc.mailbox || m.catalog == nil || m.templates == nil {
				t.Fatalf("mailbox %v, catalog %v, templates %v", m.mailbox != nil, m.catalog != nil, m.templates != nil)
			}
			if tc.name != "smtp" {
				msg, err := m.templates.Render(m.catalog.Locale("en"), "login_code", "a@example.com", mail.SampleData("login_code"))
				if err != nil {
					t.Fatal(err)
				}
				m.outbox.Enqueue(msg)
			}
			m.close(context.Background(), slog.New(slog.NewTextHandler(logs, nil)), config.DefaultShutdownTimeout)
			if !strings.Contains(logs.String(), tc.log) || strings.Contains(logs.String(), tc.notLog) {
				t.Errorf("log:\n%s", logs.String())
			}
			if tc.mailbox {
				if got, ok := m.mailbox.Last("a@example.com"); !ok || got.Kind != "login_code" {
					t.Errorf("mailbox: %+v %v", got, ok)
				}
			}
		})
	}
}
