// Command saml measures the SAML ACS for docs/BENCHMARKS.md ("Issue 10:
// SAML ACS"): validated signed assertions (RSA-2048, SHA-256) per second,
// in the same run and on the same N responses,
//
//   - finish: federation/saml's Connector.Finish, as the ACS handler calls
//     it (a posted form and the state Begin returned; an in-memory replay
//     record; a clock inside the validity windows);
//   - raw: the floor under it, etree parse + goxmldsig canonicalize and
//     verify of the signed Assertion, nothing else;
//   - node: npm's @node-saml/node-saml validating the same responses in a
//     Node process (bench/saml/node/validate.mjs).
//
// Each is run with one worker (goroutine or Node worker thread) and with
// two, in one process each, in rounds whose order rotates, so that the
// shared machine's load falls on all three alike. The report gives, per
// cell, the median over rounds of the wall-clock rate and of validations
// per CPU-second (what one core does, the load notwithstanding), then
// finish/node and finish/raw.
//
//	npm ci --prefix bench/saml/node   # once
//	go run ./bench/saml
//	BENCH_N=1000 BENCH_ROUNDS=3 go run ./bench/saml
//
// Environment: BENCH_N (2000 distinct responses), BENCH_ROUNDS (5),
// BENCH_WARMUP (200 validations before each Node pass; the Go cells run
// once untimed first), BENCH_NODE_DIR (bench/saml/node), BENCH_PROFILE (a
// directory for CPU profiles of round 1's one-worker Go cells,
// finish.pprof and raw.pprof). Run it from the
// repository's root. Linux only (/proc/loadavg).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/saml:", err)
		os.Exit(1)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func run() error {
	n := envInt("BENCH_N", 2000)
	rounds := envInt("BENCH_ROUNDS", 5)
	warmup := min(envInt("BENCH_WARMUP", 200), n/2)
	nodeDir := os.Getenv("BENCH_NODE_DIR")
	if nodeDir == "" {
		nodeDir = "bench/saml/node"
	}
	if err := checkNode(nodeDir); err != nil {
		return err
	}

	issued := time.Now().UTC().Truncate(time.Second)
	conn, err := newConnection(issued)
	if err != nil {
		return err
	}
	t0 := time.Now()
	ls, err := conn.logins(n, issued)
	if err != nil {
		return err
	}
	input, err := writeNodeInput(conn, ls, warmup)
	if err != nil {
		return err
	}
	defer os.Remove(input)
	fs := forms(ls)
	fmt.Printf("# %d responses of %d bytes (RSA-2048 SHA-256, signed Assertion, %d attributes) made in %v\n",
		n, len(ls[0].response), 6, time.Since(t0).Round(time.Millisecond))
	fmt.Printf("# %s, GOMAXPROCS %d, %d CPUs, %s\n", runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), nodeVersion())

	cells := map[string]func(workers int) (result, error){
		"finish": func(w int) (result, error) { return finishCell(conn, ls, fs, w) },
		"raw":    func(w int) (result, error) { return rawCell(conn, ls, w) },
		"node":   func(w int) (result, error) { return nodeCell(nodeDir, input, w) },
	}
	// Untimed first pass of the Go cells (Node warms up inside each run).
	for _, name := range []string{"finish", "raw"} {
		if _, err := cells[name](1); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}

	order := []string{"finish", "raw", "node"}
	got := map[string][]result{}
	var loads []float64
	fmt.Printf("%-5s %-7s %7s %5s %9s %9s %11s %7s\n", "round", "cell", "workers", "n", "wall-s", "rate/s", "per-CPU-s", "load1")
	for round := range rounds {
		for k := range order {
			name := order[(k+round)%len(order)]
			for _, w := range []int{1, 2} {
				load := loadavg()
				stop := profile(round, name, w)
				r, err := cells[name](w)
				stop()
				if err != nil {
					return fmt.Errorf("round %d, %s, %d workers: %w", round+1, name, w, err)
				}
				r.loadavg1 = loadavg()
				loads = append(loads, load, r.loadavg1)
				key := fmt.Sprintf("%s/%d", name, w)
				got[key] = append(got[key], r)
				fmt.Printf("%-5d %-7s %7d %5d %9.3f %9.0f %11.0f %7.2f\n", round+1, name, w, r.n, r.wall.Seconds(), r.rate(), r.perCPU(), r.loadavg1)
			}
		}
	}

	fmt.Printf("\n# medians over %d rounds; load average (1 min) during the run: min %.2f, median %.2f, max %.2f\n",
		rounds, slices.Min(loads), median(loads), slices.Max(loads))
	fmt.Printf("%-8s %14s %14s %14s\n", "cell", "1 worker /s", "per-CPU-s", "2 workers /s")
	med := map[string][3]float64{}
	for _, name := range order {
		one, two := got[name+"/1"], got[name+"/2"]
		m := [3]float64{
			median(mapf(one, result.rate)),
			median(mapf(slices.Concat(one, two), result.perCPU)),
			median(mapf(two, result.rate)),
		}
		med[name] = m
		fmt.Printf("%-8s %14.0f %14.0f %14.0f\n", name, m[0], m[1], m[2])
	}
	ratio := func(a, b string) string {
		return fmt.Sprintf("%.2f (1 worker) %.2f (per CPU-s) %.2f (2 workers)",
			med[a][0]/med[b][0], med[a][1]/med[b][1], med[a][2]/med[b][2])
	}
	fmt.Printf("finish/node: %s   target >= 2\n", ratio("finish", "node"))
	fmt.Printf("finish/raw:  %s   target >= 0.6\n", ratio("finish", "raw"))
	return nil
}

// profile starts a CPU profile of round 1's one-worker Go cells into
// $BENCH_PROFILE/<cell>.pprof when BENCH_PROFILE names a directory, and
// returns what stops it.
func profile(round int, name string, workers int) func() {
	dir := os.Getenv("BENCH_PROFILE")
	if dir == "" || round != 0 || workers != 1 || name == "node" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/saml: profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "bench/saml: profile:", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func mapf(rs []result, f func(result) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func loadavg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}

func nodeVersion() string {
	out, err := execOutput("node", "--version")
	if err != nil {
		return "node ?"
	}
	return "node " + strings.TrimSpace(out)
}
