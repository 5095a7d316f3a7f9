package main

// Mail to end users: where it goes (an SMTP server, or the log and
// /dev/mail), the outbox that sends it in the background, and what it
// reports to /metrics.

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-id/gatehouse/internal/config"
	"github.com/gatehouse-id/gatehouse/internal/i18n"
	"github.com/gatehouse-id/gatehouse/internal/mail"
	"github.com/gatehouse-id/gatehouse/web"
)

// openMessaging chooses where mail goes: the SMTP server when
// GATEHOUSE_SMTP_URL is set; else, in dev mode or on a loopback issuer
// listening on loopback only, the log (bodies included) and the Mailbox;
// else the log, without bodies, with an error per message, since nobody
// receives it. A loopback issuer on a wildcard address keeps /dev/mail
// shut: anyone who reaches the port would read every sign-in code.
func openMessaging(cfg *config.Config, logger *slog.Logger, reg *prometheus.Registry) (*messaging, error) {
	catalog, err := i18n.Load()
	if err != nil {
		return nil, err
	}
	templates, err := mail.NewTemplates(catalog, "Gatehouse")
	if err != nil {
		return nil, err
	}
	m := &messaging{catalog: catalog, templates: templates, log: logger}
	var sender mail.Sender
	switch local := cfg.Dev || loopbackIssuer(cfg.Issuer) && loopbackAddr(cfg.Addr); {
	case cfg.SMTPURL != "":
		from := cfg.SMTPFrom
		if from == "" {
			from = mail.DefaultFrom(cfg.Issuer)
		}
		s, err := mail.NewSMTP(mail.SMTPConfig{URL: cfg.SMTPURL, From: from, HelloName: issuerHost(cfg.Issuer)})
		if err != nil {
			return nil, err
		}
		e, _ := mail.ParseSMTPURL(cfg.SMTPURL)
		logger.Info("mail goes to an SMTP server", "host", net.JoinHostPort(e.Host, e.Port), "from", from, "locales", catalog.Tags())
		sender = s
	case local:
		m.mailbox = &mail.Mailbox{}
		sender = mail.Fanout(mail.LogSender{Logger: logger, Bodies: true}, m.mailbox)
		logger.Info("mail goes to the log and to /dev/mail (GATEHOUSE_SMTP_URL is not set)", "locales", catalog.Tags())
	default:
		sender = mail.LogSender{Logger: logger, Unconfigured: true}
		logger.Warn("mail is not configured: verification codes, sign-in links and security notices will not be sent; set GATEHOUSE_SMTP_URL")
	}
	m.outbox = mail.NewOutbox(sender, logger)
	stat := func(name, help string, v func(mail.OutboxStats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(m.outbox.Stats())) })
	}
	reg.MustRegister(
		stat("gatehouse_mail_sent_total", "Messages handed to the mail server (or the log and /dev/mail).", func(s mail.OutboxStats) int64 { return s.Sent }),
		stat("gatehouse_mail_failed_total", "Messages given up after their last attempt or a permanent refusal.", func(s mail.OutboxStats) int64 { return s.Failed }),
		stat("gatehouse_mail_dropped_total", "Messages dropped because the outbox was full or shutting down.", func(s mail.OutboxStats) int64 { return s.Dropped }),
	)
	return m, nil
}

// route mounts /dev/mail when there is a Mailbox.
func (m *messaging) route(mux *http.ServeMux) {
	if m.mailbox != nil {
		mux.Handle("GET /dev/mail", m.mailbox.Handler())
	}
}

// close sends what is queued, for at most timeout.
func (m *messaging) close(ctx context.Context, logger *slog.Logger, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := m.outbox.Close(ctx); err != nil {
		logger.Error("mail outbox closed before every message was sent", "err", err, "dropped", m.outbox.Stats().Dropped)
	}
}

func issuerHost(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil || u.Hostname() == "" || net.ParseIP(u.Hostname()) != nil {
		return "localhost"
	}
	return u.Hostname()
}

func loopbackIssuer(issuer string) bool {
	u, err := url.Parse(issuer)
	return err == nil && loopbackHost(u.Hostname())
}

func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && loopbackHost(host)
}

func loopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return strings.EqualFold(host, "localhost") || ip != nil && ip.IsLoopback()
}

// Mail renders one mail in the language acceptLanguage prefers and
// queues it: it is the hosted pages' web.Mailer, and returns at once.
func (m *messaging) Mail(ctx context.Context, acceptLanguage, kind, to string, data map[string]any) {
	msg, err := m.templates.Render(m.catalog.Match(acceptLanguage, ""), kind, to, data)
	if err != nil {
		m.log.ErrorContext(ctx, "render mail", "kind", kind, "err", err)
		return
	}
	m.outbox.Enqueue(msg)
}

var _ web.Mailer = (*messaging)(nil)
