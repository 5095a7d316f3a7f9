package interop

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/testkit"
)

// runNodeRP runs node/oidc.test.mjs (npm's openid-client, OpenID
// Certified) against s. Without node and npm it skips, unless
// GATEHOUSE_TEST_REQUIRE_ALL=1.
func runNodeRP(t *testing.T, s *Server) {
	node, npm := lookNode(t)
	dir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	installNodeModules(t, npm, dir)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "oidc.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GATEHOUSE_INTEROP_ISSUER="+s.Issuer,
		"GATEHOUSE_INTEROP_WEB_CLIENT_ID="+s.Web.ID,
		"GATEHOUSE_INTEROP_WEB_CLIENT_SECRET="+s.Web.Secret,
		"GATEHOUSE_INTEROP_SPA_CLIENT_ID="+s.SPA.ID,
		"GATEHOUSE_INTEROP_SVC_CLIENT_ID="+s.Svc.ID,
		"GATEHOUSE_INTEROP_SVC_CLIENT_SECRET="+s.Svc.Secret,
		"GATEHOUSE_INTEROP_REDIRECT_URI="+s.Callback,
		"GATEHOUSE_INTEROP_POST_LOGOUT_REDIRECT_URI="+s.PostLogout,
		"GATEHOUSE_INTEROP_EMAIL="+userEmail,
		"GATEHOUSE_INTEROP_PASSWORD="+userPassword,
		"GATEHOUSE_INTEROP_USER_ID="+s.UserID,
		"GATEHOUSE_INTEROP_ORG_ID="+s.OrgID,
		"NO_COLOR=1",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test oidc.test.mjs (openid-client) failed: %v\n%s", err, out)
	}
	t.Logf("node --test oidc.test.mjs:\n%s", out)
}

// lookNode finds node and npm, skipping (or failing under
// GATEHOUSE_TEST_REQUIRE_ALL=1) when either is missing.
func lookNode(t *testing.T) (node, npm string) {
	t.Helper()
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode == nil && errNpm == nil {
		return node, npm
	}
	testkit.Missing(t, "the openid-client interop test needs node (>= 20) and npm on PATH (Debian: apt-get install nodejs npm)")
	return "", ""
}

var npmOnce sync.Mutex

// installNodeModules runs `npm ci` from the committed lock file when
// node_modules lacks a package the tests run. Backends run in parallel; one installs.
func installNodeModules(t *testing.T, npm, dir string) {
	t.Helper()
	npmOnce.Lock()
	defer npmOnce.Unlock()
	installed := true
	for _, pkg := range []string{"openid-client", "oidc-provider", "samlify"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			installed = false
		}
	}
	if installed {
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out.Bytes())
	}
}
