// Package dnstest is an authoritative DNS server for tests: it answers TXT
// questions on 127.0.0.1 over UDP from records the test sets and changes
// while it runs (github.com/miekg/dns), so domain verification is tested
// against real DNS messages and never against the internet.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server answers TXT questions from its records: NXDOMAIN for a name it
// has none for, SERVFAIL for a name set to fail.
type Server struct {
	addr string
	mu   sync.Mutex
	txt  map[string][]string // canonical name → values, one TXT record each
	fail map[string]bool
	// queries counts the questions answered, for tests that expect none.
	queries int
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("dnstest: listen: %v", err)
	}
	s := &Server{addr: pc.LocalAddr().String(), txt: map[string][]string{}, fail: map[string]bool{}}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: s, NotifyStartedFunc: func() { close(started) }}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return s
}

// Addr is the server's host:port (GATEHOUSE_DNS_RESOLVER's form).
func (s *Server) Addr() string { return s.addr }

// SetTXT makes name answer one TXT record per value; no values removes
// the name (NXDOMAIN).
func (s *Server) SetTXT(name string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := dns.CanonicalName(name)
	delete(s.fail, n)
	if len(values) == 0 {
		delete(s.txt, n)
		return
	}
	s.txt[n] = append([]string(nil), values...)
}

// Fail makes questions about name answer SERVFAIL, as a broken
// delegation does.
func (s *Server) Fail(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[dns.CanonicalName(name)] = true
}

// Queries is how many questions the server has answered.
func (s *Server) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	s.mu.Lock()
	s.queries++
	for _, q := range req.Question {
		name := dns.CanonicalName(q.Name)
		switch values, ok := s.txt[name]; {
		case s.fail[name]:
			m.Rcode = dns.RcodeServerFailure
		case !ok:
			m.Rcode = dns.RcodeNameError
		case q.Qtype == dns.TypeTXT:
			for _, v := range values {
				m.Answer = append(m.Answer, &dns.TXT{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
					Txt: split(v)})
			}
		}
	}
	s.mu.Unlock()
	_ = w.WriteMsg(m)
}

// split cuts v into the character-strings of one TXT record (at most 255
// bytes each, RFC 1035 §3.3.14), as a DNS provider stores a long value.
func split(v string) []string {
	var out []string
	for len(v) > 255 {
		out = append(out, v[:255])
		v = v[255:]
	}
	return append(out, strings.Clone(v))
}
