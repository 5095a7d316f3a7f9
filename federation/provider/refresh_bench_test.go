//go:build unix

package provider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ent/application"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

// BenchmarkRefresh is the refresh_token grant end to end over HTTP, 16
// clients at once each rotating its own token (openid offline_access: an
// ES256 access token and ID token signed per refresh, as in
// docs/BENCHMARKS.md), on each backend. It is what docs/ARCHITECTURE.md's
// choice about auditing successful refreshes was measured with:
//
//	GATEHOUSE_TEST_DATABASE_URL=… go test ./federation/provider -run '^$' -bench Refresh -count 6
func BenchmarkRefresh(b *testing.B) {
	const chains = 32
	for _, d := range testdb.All(b) {
		// Once per backend: b.Run calls its function once per b.N it tries.
		e := newEnv(b, d)
		e.db.Application.Update().Where(application.ClientID("web")).
			SetAccessTokenSigningAlgorithm("ES256").SetIDTokenSigningAlgorithm("ES256").ExecX(e.ctx)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: chains}}
		pool := make(chan string, chains)
		for range chains {
			verifier, challenge := pkce()
			cb := e.login(codeParams("web", webRedirect, challenge, "openid", "offline_access"), Authentication{})
			rt, err := benchToken(client, e, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
				"redirect_uri": {webRedirect}, "code_verifier": {verifier}})
			if err != nil {
				b.Fatal(err)
			}
			pool <- rt
		}
		b.Run(d.Name, func(b *testing.B) {
			b.SetParallelism(chains / 2 / max(1, testingProcs()))
			b.ReportAllocs()
			cpu := processCPU()
			defer func() {
				// CPU of this process (server and client) per refresh: steadier
				// than ns/op on a shared machine, and the server's CPU is what
				// bounds the token endpoint (docs/BENCHMARKS.md).
				b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
			}()
			b.RunParallel(func(pb *testing.PB) {
				rt := <-pool
				defer func() { pool <- rt }()
				for pb.Next() {
					next, err := benchToken(client, e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
					if err != nil {
						b.Error(err)
						return
					}
					rt = next
				}
			})
		})
	}
}

// benchToken posts form to the token endpoint as web and returns the
// refresh token of the answer.
func benchToken(client *http.Client, e *env, form url.Values) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, e.issuer+pathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("web", webSecret)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.RefreshToken == "" {
		return "", fmt.Errorf("token: status %d, %v", resp.StatusCode, err)
	}
	return body.RefreshToken, nil
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
