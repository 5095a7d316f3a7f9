package interop

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startNodePeer runs node/<script> (an identity provider from npm) with
// env and args and returns the URL it prints as "listening <url>". It
// stops when the test ends. Without node and npm it skips, unless
// GATEHOUSE_TEST_REQUIRE_ALL=1.
func startNodePeer(t *testing.T, script string, env []string, args ...string) string {
	t.Helper()
	node, npm := lookNode(t)
	dir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	installNodeModules(t, npm, dir)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("node %s: %v", script, err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("node %s stderr:\n%s", script, stderr.String())
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				ready <- u
			}
		}
		close(ready)
	}()
	select {
	case u, ok := <-ready:
		if !ok {
			t.Fatalf("node %s exited before listening:\n%s", script, stderr.String())
		}
		return u
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s did not print listening within 30s:\n%s", script, stderr.String())
	}
	return ""
}
