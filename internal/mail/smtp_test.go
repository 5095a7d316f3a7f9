package mail

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testCert is a self-signed certificate for localhost, 127.0.0.1 and
// mail.example.test, and a pool that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test mail server"},
		DNSNames:     []string{"localhost", "mail.example.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// delivery is what the test server received in one transaction.
type delivery struct {
	from     string
	to       []string
	data     []byte
	tls      bool
	user     string // who authenticated, if anyone
	password string
}

// mailServer is a real SMTP server (emersion/go-smtp) on 127.0.0.1.
type mailServer struct {
	addr string
	mu   sync.Mutex
	got  []delivery
	// auths counts AUTH attempts, successful or not.
	auths int
}

type serverOptions struct {
	startTLS   bool // offer STARTTLS
	implicit   bool // TLS from the first byte
	insecure   bool // allow AUTH without TLS
	user, pass string
	mechs      []string // offered AUTH mechanisms; PLAIN when empty
}

func startServer(t *testing.T, o serverOptions) (*mailServer, *x509.CertPool) {
	t.Helper()
	cert, pool := testCert(t)
	ms := &mailServer{}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: ms, conn: c, opts: o}, nil
	}))
	s.Domain = "localhost"
	s.AllowInsecureAuth = o.insecure
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}}
	if o.startTLS {
		s.TLSConfig = tlsConfig
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.implicit {
		ln = tls.NewListener(ln, tlsConfig)
	}
	ms.addr = ln.Addr().String()
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return ms, pool
}

func (ms *mailServer) authCount() int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.auths
}

func (ms *mailServer) deliveries() []delivery {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]delivery(nil), ms.got...)
}

type session struct {
	srv  *mailServer
	conn *smtp.Conn
	opts serverOptions
	cur  delivery
}

func (s *session) AuthMechanisms() []string {
	if s.opts.mechs != nil {
		return s.opts.mechs
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if !slices.Contains(s.AuthMechanisms(), mech) {
		return nil, smtp.ErrAuthUnsupported
	}
	if mech == sasl.Login {
		return &loginServer{check: s.check}, nil
	}
	return sasl.NewPlainServer(func(_, user, pass string) error { return s.check(user, pass) }), nil
}

// check counts an AUTH attempt and accepts the configured credentials.
func (s *session) check(user, pass string) error {
	s.srv.mu.Lock()
	s.srv.auths++
	s.srv.mu.Unlock()
	if user != s.opts.user || pass != s.opts.pass {
		return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "invalid credentials"}
	}
	s.cur.user, s.cur.password = user, pass
	return nil
}

// loginServer is the server side of the LOGIN mechanism, which go-sasl
// has only as a client.
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if response != nil { // an initial response is the user name
			l.user = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(response)
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(l.user, string(response))
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.opts.user != "" && s.cur.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "unknown@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	if strings.HasPrefix(to, "busy@") {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	d := s.cur
	d.data = data
	_, d.tls = s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.got = append(s.srv.got, d)
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = delivery{user: s.cur.user, password: s.cur.password} }
func (s *session) Logout() error { return nil }

// dialTo connects every address to addr: the sender believes it talks to
// the host its URL names (mail.example.test), the test server answers.
func dialTo(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

var fixedNow = func() time.Time { return time.Unix(1_800_000_000, 0) }

func testMessage() Message {
	return Message{
		To:      "alice@example.com",
		Subject: "Grüße: your code",
		Text:    "Hello Alice,\n.\n.hidden line starts with a dot\nLong line " + strings.Repeat("x", 200) + "\nBye\n",
		HTML:    "<p>Hello Alice, <b>ünïcode</b></p>\r\n<p>.dot</p>",
		Kind:    "login_code",
	}
}

func TestSMTPSend(t *testing.T) {
	cases := []struct {
		name   string
		server serverOptions
		url    string // %s is the server's port
		dial   bool   // dial the server whatever the URL's host
		tls    bool   // the message must arrive over TLS
		user   string
	}{
		{"STARTTLS with auth", serverOptions{startTLS: true, user: "gatehouse", pass: "p@ss:word"},
			"smtp://gatehouse:p%40ss%3Aword@mail.example.test:%s", true, true, "gatehouse"},
		{"implicit TLS with auth", serverOptions{implicit: true, user: "gatehouse", pass: "secret"},
			"smtps://gatehouse:secret@mail.example.test:%s", true, true, "gatehouse"},
		{"STARTTLS with LOGIN", serverOptions{startTLS: true, user: "gatehouse", pass: "secret", mechs: []string{sasl.Login}},
			"smtp://gatehouse:secret@mail.example.test:%s", true, true, "gatehouse"},
		{"loopback upgrades when offered", serverOptions{startTLS: true},
			"smtp://127.0.0.1:%s", false, true, ""},
		{"loopback without TLS", serverOptions{},
			"smtp://127.0.0.1:%s", false, false, ""},
		{"loopback tls=none never upgrades", serverOptions{startTLS: true, insecure: true, user: "dev", pass: "dev"},
			"smtp://dev:dev@127.0.0.1:%s?tls=none", false, false, "dev"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, pool := startServer(t, tc.server)
			_, port, _ := net.SplitHostPort(srv.addr)
			cfg := SMTPConfig{URL: strings.Replace(tc.url, "%s", port, 1), From: "Gätehouse <no-reply@id.example.com>",
				HelloName: "id.example.com", RootCAs: pool, Now: fixedNow}
			if tc.dial {
				cfg.DialContext = dialTo(srv.addr)
			}
			s, err := NewSMTP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			m := testMessage()
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			got := srv.deliveries()
			if len(got) != 1 {
				t.Fatalf("server received %d messages", len(got))
			}
			d := got[0]
			if d.tls != tc.tls || d.user != tc.user {
				t.Errorf("tls %v user %q, want tls %v user %q", d.tls, d.user, tc.tls, tc.user)
			}
			if d.from != "no-reply@id.example.com" || len(d.to) != 1 || d.to[0] != "alice@example.com" {
				t.Errorf("envelope from %q to %v", d.from, d.to)
			}
			checkMessage(t, d.data, m)
		})
	}
}

// crlf ends every line of s with CRLF.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// checkMessage parses raw as a mail client would and compares it with m.
func checkMessage(t *testing.T, raw []byte, m Message) {
	t.Helper()
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) || bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\r")) {
		t.Error("message has a line ending other than CRLF")
	}
	for _, line := range bytes.Split(raw, []byte("\r\n")) {
		if len(line) > 998 {
			t.Errorf("line of %d octets (RFC 5322 §2.1.1 allows 998)", len(line))
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	dec := new(mime.WordDecoder)
	if subject, err := dec.DecodeHeader(h.Get("Subject")); err != nil || subject != m.Subject {
		t.Errorf("Subject %q (%v), raw %q", subject, err, h.Get("Subject"))
	}
	if from, err := h.AddressList("From"); err != nil || len(from) != 1 || from[0].Name != "Gätehouse" || from[0].Address != "no-reply@id.example.com" {
		t.Errorf("From %v (%v)", from, err)
	}
	if to, err := h.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != m.To {
		t.Errorf("To %v (%v)", to, err)
	}
	if date, err := h.Date(); err != nil || !date.Equal(fixedNow()) {
		t.Errorf("Date %v (%v)", date, err)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@id.example.com>") {
		t.Errorf("Message-ID %q", id)
	}
	if h.Get("MIME-Version") != "1.0" || h.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("MIME-Version %q, Auto-Submitted %q", h.Get("MIME-Version"), h.Get("Auto-Submitted"))
	}
	typ, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || typ != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v)", h.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	want := []struct{ typ, body string }{
		{"text/plain", crlf(m.Text)},
		{"text/html", crlf(m.HTML)},
	}
	for i := 0; ; i++ {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			if i != len(want) {
				t.Errorf("%d parts, want %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(want) {
			t.Fatalf("more than %d parts", len(want))
		}
		body, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		if ct := p.Header.Get("Content-Type"); ct != want[i].typ+"; charset=utf-8" {
			t.Errorf("part %d Content-Type %q", i, ct)
		}
		if string(body) != want[i].body {
			t.Errorf("part %d body\n%q\nwant\n%q", i, body, want[i].body)
		}
	}
}

func TestSMTPTextOnly(t *testing.T) {
	srv, pool := startServer(t, serverOptions{startTLS: true})
	_, port, _ := net.SplitHostPort(srv.addr)
	s, err := NewSMTP(SMTPConfig{URL: "smtp://localhost:" + port, From: "no-reply@id.example.com", RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), Message{To: "bob@example.com", Subject: "plain", Text: "just text\n"}); err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(srv.deliveries()[0].data))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(msg.Body)
	if ct := msg.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" || string(body) != "just text\r\n" {
		t.Errorf("Content-Type %q body %q", ct, body)
	}
}

// TestSMTPRefuses covers what must fail, and fail before a password or a
// message crosses the network in the clear.
func TestSMTPRefuses(t *testing.T) {
	t.Run("no STARTTLS on a remote host", func(t *testing.T) {
		srv, pool := startServer(t, serverOptions{insecure: true, user: "u", pass: "p"})
		s, err := NewSMTP(SMTPConfig{URL: "smtp://u:p@mail.example.test", From: "a@example.com", RootCAs: pool, DialContext: dialTo(srv.addr)})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(context.Background(), testMessage())
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") || errors.Is(err, ErrPermanent) {
			t.Fatalf("got %v", err)
		}
		if srv.authCount() != 0 || len(srv.deliveries()) != 0 {
			t.Fatalf("sent %d AUTH and %d messages in the clear", srv.authCount(), len(srv.deliveries()))
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv, _ := startServer(t, serverOptions{startTLS: true, user: "u", pass: "p"})
		s, _ := NewSMTP(SMTPConfig{URL: "smtp://u:p@mail.example.test", From: "a@example.com", DialContext: dialTo(srv.addr)})
		if err := s.Send(context.Background(), testMessage()); err == nil || srv.authCount() != 0 {
			t.Fatalf("got %v after %d AUTH", err, srv.authCount())
		}
	})
	t.Run("wrong host name in the certificate", func(t *testing.T) {
		srv, pool := startServer(t, serverOptions{implicit: true})
		s, _ := NewSMTP(SMTPConfig{URL: "smtps://smtp.other.test", From: "a@example.com", RootCAs: pool, DialContext: dialTo(srv.addr)})
		if err := s.Send(context.Background(), testMessage()); err == nil || len(srv.deliveries()) != 0 {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no usable AUTH mechanism is permanent", func(t *testing.T) {
		srv, pool := startServer(t, serverOptions{startTLS: true, user: "u", pass: "p", mechs: []string{"CRAM-MD5"}})
		s, _ := NewSMTP(SMTPConfig{URL: "smtp://u:p@mail.example.test", From: "a@example.com", RootCAs: pool, DialContext: dialTo(srv.addr)})
		err := s.Send(context.Background(), testMessage())
		if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "neither PLAIN nor LOGIN") || srv.authCount() != 0 {
			t.Fatalf("got %v after %d AUTH", err, srv.authCount())
		}
	})
	t.Run("wrong password is permanent", func(t *testing.T) {
		srv, pool := startServer(t, serverOptions{startTLS: true, user: "u", pass: "p"})
		s, _ := NewSMTP(SMTPConfig{URL: "smtp://u:wrong@mail.example.test", From: "a@example.com", RootCAs: pool, DialContext: dialTo(srv.addr)})
		err := s.Send(context.Background(), testMessage())
		if !errors.Is(err, ErrPermanent) || strings.Contains(err.Error(), "wrong") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refused recipient is permanent, a busy one is not", func(t *testing.T) {
		srv, pool := startServer(t, serverOptions{startTLS: true})
		_, port, _ := net.SplitHostPort(srv.addr)
		s, _ := NewSMTP(SMTPConfig{URL: "smtp://127.0.0.1:" + port, From: "a@example.com", RootCAs: pool})
		m := testMessage()
		m.To = "unknown@example.com"
		if err := s.Send(context.Background(), m); !errors.Is(err, ErrPermanent) {
			t.Fatalf("550: got %v", err)
		}
		m.To = "busy@example.com"
		if err := s.Send(context.Background(), m); err == nil || errors.Is(err, ErrPermanent) {
			t.Fatalf("451: got %v", err)
		}
	})
	t.Run("bad recipient and subject never reach the server", func(t *testing.T) {
		srv, pool := startServer(t, serverOptions{startTLS: true})
		_, port, _ := net.SplitHostPort(srv.addr)
		s, _ := NewSMTP(SMTPConfig{URL: "smtp://127.0.0.1:" + port, From: "a@example.com", RootCAs: pool})
		for _, m := range []Message{
			{To: "alice@example.com\r\nBcc: eve@example.com", Subject: "x", Text: "x"},
			{To: "Alice <alice@example.com>", Subject: "x", Text: "x"},
			{To: "not an address", Subject: "x", Text: "x"},
			{To: "alice@example.com", Subject: "x\r\nBcc: eve@example.com", Text: "x"},
		} {
			if err := s.Send(context.Background(), m); !errors.Is(err, ErrPermanent) {
				t.Errorf("%q / %q: got %v", m.To, m.Subject, err)
			}
		}
		if n := len(srv.deliveries()); n != 0 {
			t.Fatalf("%d delivered", n)
		}
	})
	t.Run("a silent server times out", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err == nil {
				accepted <- c // never greets
			}
		}()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		s, _ := NewSMTP(SMTPConfig{URL: "smtp://127.0.0.1:" + port, From: "a@example.com", SendTimeout: 50 * time.Millisecond})
		start := time.Now()
		err = s.Send(context.Background(), testMessage())
		if err == nil || time.Since(start) > 10*time.Second {
			t.Fatalf("got %v after %v", err, time.Since(start))
		}
		(<-accepted).Close()
	})
	t.Run("cancelled context", func(t *testing.T) {
		srv, pool := startServer(t, serverOptions{startTLS: true})
		_, port, _ := net.SplitHostPort(srv.addr)
		s, _ := NewSMTP(SMTPConfig{URL: "smtp://127.0.0.1:" + port, From: "a@example.com", RootCAs: pool})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Send(ctx, testMessage()); err == nil || len(srv.deliveries()) != 0 {
			t.Fatalf("got %v", err)
		}
	})
}

func TestParseSMTPURL(t *testing.T) {
	cases := []struct {
		url  string
		want Endpoint
		err  string
	}{
		{"smtp://user:pw@mail.example.com", Endpoint{Host: "mail.example.com", Port: "587", TLS: StartTLS, Username: "user", Password: "pw"}, ""},
		{"smtp://mail.example.com:2525?tls=starttls", Endpoint{Host: "mail.example.com", Port: "2525", TLS: StartTLS}, ""},
		{"smtps://user:pw@mail.example.com", Endpoint{Host: "mail.example.com", Port: "465", TLS: ImplicitTLS, Username: "user", Password: "pw"}, ""},
		{"smtp://127.0.0.1:25", Endpoint{Host: "127.0.0.1", Port: "25", TLS: StartTLSIfOffered}, ""},
		{"smtp://localhost:1025?tls=none", Endpoint{Host: "localhost", Port: "1025", TLS: NoTLS}, ""},
		{"smtp://[::1]:25?tls=none", Endpoint{Host: "::1", Port: "25", TLS: NoTLS}, ""},
		{"smtp://[::1]:25?tls=starttls", Endpoint{Host: "::1", Port: "25", TLS: StartTLS}, ""},
		{"smtp://mail.example.com:25?tls=none", Endpoint{}, "only for a loopback host"},
		{"smtps://localhost?tls=none", Endpoint{}, "takes no tls option"},
		{"smtp://localhost?tls=maybe", Endpoint{}, "tls must be starttls or none"},
		{"smtp://localhost?tls=none&tls=none", Endpoint{}, "twice"},
		{"smtp://localhost?colour=blue", Endpoint{}, `unknown option "colour"`},
		{"http://mail.example.com", Endpoint{}, "smtp:// or smtps://"},
		{"smtp://", Endpoint{}, "must name a host"},
		{"smtp:mail.example.com", Endpoint{}, "must name a host"},
		{"smtp://mail.example.com/inbox", Endpoint{}, "no path"},
		{"smtp://mail.example.com:0", Endpoint{}, "port"},
		{"smtp://mail.example.com:99999", Endpoint{}, "port"},
		{"smtp://mail.example.com:smtp", Endpoint{}, "not a valid URL"},
		{"smtp://user@mail.example.com", Endpoint{}, "both a user name and a password"},
		{"smtp://:secretpw@mail.example.com", Endpoint{}, "both a user name and a password"},
		{"smtp://user:secretpw@mail.example.com:99999", Endpoint{}, "port"},
		{"smtp://user:secretpw@[::1", Endpoint{}, "not a valid URL"},
	}
	for _, tc := range cases {
		got, err := ParseSMTPURL(tc.url)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%s: got %+v, %v; want %+v", tc.url, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: got %v, want an error containing %q", tc.url, err, tc.err)
		case err != nil && strings.Contains(err.Error(), "secretpw"):
			t.Errorf("%s: error repeats the password: %v", tc.url, err)
		}
	}
}

func TestDefaultFrom(t *testing.T) {
	for issuer, want := range map[string]string{
		"https://ID.Example.com":      "Gatehouse <no-reply@id.example.com>",
		"https://id.example.com:8443": "Gatehouse <no-reply@id.example.com>",
		"http://127.0.0.1:8080":       "Gatehouse <no-reply@localhost>",
		"http://localhost:8080":       "Gatehouse <no-reply@localhost>",
	} {
		got := DefaultFrom(issuer)
		if got != want {
			t.Errorf("DefaultFrom(%q) = %q, want %q", issuer, got, want)
		}
		if _, err := ParseFrom(got); err != nil {
			t.Errorf("DefaultFrom(%q) does not parse: %v", issuer, err)
		}
	}
}

// FuzzParseSMTPURL: no input panics, and no refusal repeats the password
// (unless the operator also typed it into the query, which errors quote).
func FuzzParseSMTPURL(f *testing.F) {
	for _, s := range []string{"smtp://u:pw@mail.example.com", "smtps://u:pw@h:465", "smtp://u:pw@127.0.0.1:25?tls=none",
		"smtp://u:pw@h?tls=none", "smtp://u:pw@h:0", "smtp://:pw@h", "smtp://u:pw@[::1", "smtp://u:pw@h/x#y", "smtp:opaque", "smtp://u:p%zz@h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, err := ParseSMTPURL(raw)
		if err == nil {
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil || u.User == nil {
			return
		}
		if pw, ok := u.User.Password(); ok && len(pw) >= 4 && strings.Contains(err.Error(), pw) && !strings.Contains(u.RawQuery, pw) {
			t.Fatalf("%q: error repeats the password: %v", raw, err)
		}
	})
}
