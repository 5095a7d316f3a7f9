// Package dnsresolver makes the DNS resolver domain verification asks
// (GATEHOUSE_DNS_RESOLVER): the system's, or Go's own resolver speaking
// to one server, so an operator can point Gatehouse at a resolver of
// their choice and tests at an in-process server (internal/dnstest).
package dnsresolver

import (
	"context"
	"fmt"
	"net"
	"strconv"
)

// New returns the system resolver when addr is empty, else Go's resolver
// sending every question to addr (host:port, UDP, falling back to TCP for
// truncated answers as the resolver does by itself). A *net.Resolver is a
// tenants.Resolver: LookupTXT(ctx, name).
func New(addr string) (*net.Resolver, error) {
	if addr == "" {
		return net.DefaultResolver, nil
	}
	if err := Check(addr); err != nil {
		return nil, err
	}
	var d net.Dialer
	return &net.Resolver{
		PreferGo: true,
		// network is "udp" or "tcp" as the resolver needs; the address it
		// read from /etc/resolv.conf is replaced by addr.
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}, nil
}

// Check reports what is wrong with addr as a resolver address: it must be
// an IP address and a port (a name would need a resolver to find it).
func Check(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port, e.g. 127.0.0.1:53")
	}
	if net.ParseIP(host) == nil {
		return fmt.Errorf("host must be an IP address, e.g. 127.0.0.1:53 or [::1]:53")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("port must be a number from 1 to 65535")
	}
	return nil
}
