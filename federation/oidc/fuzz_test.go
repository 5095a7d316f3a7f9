package oidc

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/federation"
)

// FuzzFinish feeds Finish callback queries and stored states. In a seed
// "{state}" stands for the transaction's real state and "{iss}" for the
// provider's issuer, so the fuzzer starts past the first checks. No
// input may panic, and since no input carries a code the provider issued,
// every one must be refused with a Rejection and an empty identity.
func FuzzFinish(f *testing.F) {
	r := newRig(f)
	step, err := r.conn.Begin(f.Context(), federation.BeginRequest{})
	if err != nil {
		f.Fatal(err)
	}
	tx, _ := r.conn.transaction(step.State)
	for _, seed := range []struct {
		query  string
		stored string
	}{
		{"code=abc&state={state}", ""},
		{"code=abc&state={state}&iss={iss}", ""},
		{"code=abc&state={state}&iss=https%3A%2F%2Fattacker.test", ""},
		{"error=access_denied&error_description=no&state={state}", ""},
		{"error=access_denied&state=other", ""},
		{"code=abc&code=def&state={state}", ""},
		{"state={state}", ""},
		{"code=%zz&state={state}", ""},
		{"", ""},
		{"code=abc&state={state}", `{"v":1}`},
		{"code=abc&state={state}", `{"v":1,"conn":"conn_01JTESTC0NNECT10NAAAAAAAAA","iss":"{iss}","state":"{state}","nonce":"n","verifier":"v","started":0}`},
		{"code=abc&state={state}", "\x00garbage"},
	} {
		f.Add(seed.query, []byte(seed.stored))
	}
	fill := func(s string) string {
		return strings.NewReplacer("{state}", tx.State, "{iss}", r.op.Issuer).Replace(s)
	}
	f.Fuzz(func(t *testing.T, query string, stored []byte) {
		state := step.State
		if len(stored) > 0 {
			state = []byte(fill(string(stored)))
		}
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "https://gatehouse.test/cb", nil)
		req.URL.RawQuery = fill(query)
		id, err := r.conn.Finish(t.Context(), req, state)
		if err == nil {
			t.Fatalf("Finish accepted %q with state %q: %+v", req.URL.RawQuery, state, id)
		}
		if CodeOf(err) == "" {
			t.Fatalf("Finish refused %q with a non-Rejection: %v", req.URL.RawQuery, err)
		}
		if !reflect.ValueOf(id).IsZero() {
			t.Fatalf("a refused Finish returned an identity: %+v", id)
		}
	})
}
