package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of SMTPConfig.
const (
	DefaultDialTimeout = 10 * time.Second
	DefaultSendTimeout = 30 * time.Second
)

// TLSMode is how a connection to the mail server is protected.
type TLSMode int

const (
	// StartTLS upgrades the connection with STARTTLS (RFC 3207) and sends
	// nothing unless the upgrade succeeds: smtp://, the default.
	StartTLS TLSMode = iota
	// ImplicitTLS speaks TLS from the first byte (RFC 8314 §3.3): smtps://.
	ImplicitTLS
	// StartTLSIfOffered upgrades when the server offers STARTTLS and goes
	// on in the clear when it does not: smtp:// to a loopback host, where
	// nothing crosses the network.
	StartTLSIfOffered
	// NoTLS never upgrades: smtp://…?tls=none, for loopback hosts only.
	NoTLS
)

// Endpoint is a mail server as GATEHOUSE_SMTP_URL names it.
type Endpoint struct {
	Host, Port         string
	TLS                TLSMode
	Username, Password string // empty: no AUTH
}

// ParseSMTPURL reads smtp://[user:pass@]host[:port][?tls=none|starttls]
// (port 587, STARTTLS required unless the host is loopback; tls=none only
// for loopback) or smtps://[user:pass@]host[:port] (port 465, implicit
// TLS). Its errors never repeat the password.
func ParseSMTPURL(raw string) (Endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// The parse error quotes the URL, password included: say less.
		return Endpoint{}, errors.New("not a valid URL")
	}
	var e Endpoint
	switch u.Scheme {
	case "smtp":
		e.Port, e.TLS = "587", StartTLS
	case "smtps":
		e.Port, e.TLS = "465", ImplicitTLS
	default:
		return Endpoint{}, errors.New("must be an smtp:// or smtps:// URL")
	}
	e.Host = u.Hostname()
	switch {
	case u.Opaque != "" || e.Host == "":
		return Endpoint{}, errors.New("must name a host")
	case u.Path != "" && u.Path != "/", u.Fragment != "":
		return Endpoint{}, errors.New("must have no path or fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p {
			return Endpoint{}, errors.New("port must be a number from 1 to 65535")
		}
		e.Port = p
	}
	if u.User != nil {
		e.Username = u.User.Username()
		e.Password, _ = u.User.Password()
		if e.Username == "" || e.Password == "" {
			return Endpoint{}, errors.New("must give both a user name and a password, or neither")
		}
	}
	loopback := isLoopback(e.Host)
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Endpoint{}, errors.New("has an unreadable query")
	}
	for name := range q {
		if name != "tls" {
			return Endpoint{}, fmt.Errorf("unknown option %q (only tls)", name)
		}
	}
	switch mode := q.Get("tls"); {
	case len(q["tls"]) > 1:
		return Endpoint{}, errors.New("tls is given twice")
	case mode == "" && e.TLS == StartTLS && loopback:
		e.TLS = StartTLSIfOffered
	case mode == "", mode == "starttls" && e.TLS == StartTLS:
	case mode == "none" && e.TLS == StartTLS && loopback:
		e.TLS = NoTLS
	case mode == "none" && e.TLS == StartTLS:
		return Endpoint{}, errors.New("tls=none is allowed only for a loopback host: mail to another host would cross the network in the clear")
	case e.TLS == ImplicitTLS:
		return Endpoint{}, errors.New("smtps:// always uses TLS and takes no tls option")
	default:
		return Endpoint{}, fmt.Errorf("tls must be starttls or none, not %q", mode)
	}
	return e, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DefaultFrom is the sender when GATEHOUSE_SMTP_FROM is unset:
// "Gatehouse <no-reply@issuer host>", localhost for an IP address.
func DefaultFrom(issuer string) string {
	host := "localhost"
	if u, err := url.Parse(issuer); err == nil && u.Hostname() != "" && net.ParseIP(u.Hostname()) == nil {
		host = strings.ToLower(u.Hostname())
	}
	return "Gatehouse <no-reply@" + host + ">"
}

// SMTPConfig configures an SMTP sender.
type SMTPConfig struct {
	// URL names the server: see ParseSMTPURL.
	URL string
	// From is the sender, an RFC 5322 address with an optional display
	// name ("Gatehouse <no-reply@example.com>").
	From string
	// HelloName is the name given in EHLO. Defaults to "localhost".
	HelloName string
	// DialTimeout bounds connecting. Defaults to DefaultDialTimeout.
	DialTimeout time.Duration
	// SendTimeout bounds a whole delivery, from dialing to QUIT. Defaults
	// to DefaultSendTimeout.
	SendTimeout time.Duration
	// RootCAs verify the server's certificate; nil means the system's.
	RootCAs *x509.CertPool
	// DialContext connects to the server; nil means a net.Dialer with
	// DialTimeout. Tests point it at their own listener.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now stamps the Date header. Defaults to time.Now.
	Now func() time.Time
}

// SMTP delivers messages to one mail server, a connection per message.
type SMTP struct {
	cfg      SMTPConfig
	endpoint Endpoint
	from     *mail.Address
	domain   string // of From, for Message-ID
}

// NewSMTP checks cfg; it does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	e, err := ParseSMTPURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("smtp URL: %w", err)
	}
	from, err := ParseFrom(cfg.From)
	if err != nil {
		return nil, err
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
	if strings.ContainsAny(cfg.HelloName, " \r\n") {
		return nil, fmt.Errorf("smtp hello name %q: must be a host name", cfg.HelloName)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	if cfg.DialContext == nil {
		cfg.DialContext = (&net.Dialer{Timeout: cfg.DialTimeout}).DialContext
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	_, domain, _ := strings.Cut(from.Address, "@")
	return &SMTP{cfg: cfg, endpoint: e, from: from, domain: domain}, nil
}

// ParseFrom reads a sender address as GATEHOUSE_SMTP_FROM gives it.
func ParseFrom(from string) (*mail.Address, error) {
	a, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("sender address %q: must be an address such as \"Gatehouse <no-reply@example.com>\"", from)
	}
	return a, nil
}

// Send delivers m: connect, protect the connection as the URL says,
// authenticate, and hand over the message. It fails rather than send
// credentials or a message in the clear to a host that is not loopback.
// A 5xx reply (RFC 5321 §4.2.1) is ErrPermanent.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	to, err := mail.ParseAddress(m.To)
	if err != nil || to.Name != "" {
		return permanent(fmt.Errorf("send mail: recipient %q is not a plain address", m.To))
	}
	data, err := s.build(m, to)
	if err != nil {
		return permanent(fmt.Errorf("send mail: %w", err))
	}
	if err := s.deliver(ctx, to.Address, data); err != nil {
		var reply *textproto.Error
		if errors.As(err, &reply) && reply.Code >= 500 {
			err = permanent(err)
		}
		return fmt.Errorf("send mail to %s:%s: %w", s.endpoint.Host, s.endpoint.Port, err)
	}
	return nil
}

func (s *SMTP) deliver(ctx context.Context, to string, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	defer cancel()
	e := s.endpoint
	dialCtx, cancelDial := context.WithTimeout(ctx, s.cfg.DialTimeout)
	conn, err := s.cfg.DialContext(dialCtx, "tcp", net.JoinHostPort(e.Host, e.Port))
	cancelDial()
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	// Every read and write ends with ctx: its deadline, or its
	// cancellation (the Outbox closing).
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	tlsConfig := &tls.Config{ServerName: e.Host, RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	if e.TLS == ImplicitTLS {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return fmt.Errorf("tls: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, e.Host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HelloName); err != nil {
		return fmt.Errorf("ehlo: %w", err)
	}
	if e.TLS == StartTLS || e.TLS == StartTLSIfOffered {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConfig); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
		} else if e.TLS == StartTLS {
			return errors.New("the server does not offer STARTTLS, which a host that is not loopback must (or use smtps://)")
		}
	}
	if e.Username != "" {
		auth, err := s.auth(c)
		if err != nil {
			return err
		}
		if err := c.Auth(auth); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// The data writer stuffs leading dots (RFC 5321 §4.5.2).
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// The message is accepted once DATA is answered: a lost QUIT must not
	// make the Outbox send it again.
	_ = c.Quit()
	return nil
}

// auth chooses PLAIN (RFC 4616) or, where a server offers only that,
// LOGIN (as Microsoft's servers do). Both refuse to send the password
// unless the connection is TLS or the host is loopback.
func (s *SMTP) auth(c *smtp.Client) (smtp.Auth, error) {
	e := s.endpoint
	ok, list := c.Extension("AUTH")
	mechs := strings.Fields(strings.ToUpper(list))
	switch {
	case !ok:
		return nil, permanent(errors.New("auth: the URL has credentials but the server offers no AUTH"))
	case slices.Contains(mechs, "PLAIN"):
		return smtp.PlainAuth("", e.Username, e.Password, e.Host), nil
	case slices.Contains(mechs, "LOGIN"):
		return &loginAuth{user: e.Username, pass: e.Password, host: e.Host}, nil
	}
	return nil, permanent(fmt.Errorf("auth: the server offers %s, neither PLAIN nor LOGIN", list))
}

// loginAuth is the LOGIN mechanism (draft-murchison-sasl-login): the user
// name and the password, each at its prompt.
type loginAuth struct{ user, pass, host string }

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLoopback(server.Name) {
		return "", nil, errors.New("unencrypted connection")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(prompt []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch p := strings.ToLower(strings.TrimSpace(string(prompt))); {
	case strings.HasPrefix(p, "username"):
		return []byte(a.user), nil
	case strings.HasPrefix(p, "password"):
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("unexpected LOGIN prompt %.40q", prompt)
}

// build writes m as an RFC 5322 message with CRLF line endings: a
// multipart/alternative of the text and the HTML part (RFC 2046 §5.1.4),
// or the text part alone, each quoted-printable in UTF-8.
func (s *SMTP) build(m Message, to *mail.Address) ([]byte, error) {
	var b bytes.Buffer
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	header := func(name, value string) {
		b.WriteString(name + ": " + value + "\r\n")
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, errors.New("subject has a line break")
	}
	header("From", s.from.String())
	header("To", (&mail.Address{Address: to.Address}).String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", s.cfg.Now().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id)+"@"+s.domain+">")
	header("MIME-Version", "1.0")
	// RFC 3834 §5: automatic replies should not answer this message.
	header("Auto-Submitted", "auto-generated")
	if m.HTML == "" {
		header("Content-Type", "text/plain; charset=utf-8")
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, m.Text); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	mw := multipart.NewWriter(&b)
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	// Alternatives go from the plainest to the richest (RFC 2046 §5.1.4).
	for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		if err := writeQP(w, part.body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeQP writes text quoted-printable (RFC 2045 §6.7) with CRLF line
// endings, whatever endings text has.
func writeQP(w interface{ Write([]byte) (int, error) }, text string) error {
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(text)); err != nil {
		return err
	}
	return qp.Close()
}
