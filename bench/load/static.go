package main

import (
	"bytes"
	"net/http"
	"strconv"
)

// staticMode serves one fixed JSON body of size bytes at every path with
// plain net/http and no middleware: the floor for discovery and JWKS, i.e.
// what Go's HTTP server alone reaches on the same core (bench/oidc.sh pins
// it like the servers).
func staticMode(addr string, size int) error {
	body := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), max(0, size-10))...)
	body = append(body, '"', '}')
	return http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
}
