package main

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// result is one cell: n validations by some workers, the wall time and
// the CPU time this process (or Node's) spent on them.
type result struct {
	n        int
	wall     time.Duration
	cpu      time.Duration
	workers  int
	loadavg1 float64
}

func (r result) rate() float64 { return float64(r.n) / r.wall.Seconds() }

// perCPU is validations per CPU-second: what one core does, whatever
// else the machine runs at the time.
func (r result) perCPU() float64 { return float64(r.n) / r.cpu.Seconds() }

// memReplay is a ReplayCache in memory, as one node keeps it.
type memReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (m *memReplay) Remember(_ context.Context, conn, id string, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]time.Time{}
	}
	k := conn + "\x00" + id
	if _, ok := m.seen[k]; ok {
		return false, nil
	}
	m.seen[k] = until
	return true, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parallel runs job(i) for i in [0, n) on workers goroutines, each taking
// a contiguous share, and times it.
func parallel(n, workers int, job func(i int) error) (result, error) {
	start, cpu0 := time.Now(), cpuTime()
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * n / workers; i < (w+1)*n/workers; i++ {
				if err := job(i); err != nil {
					errs[w] = fmt.Errorf("document %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	r := result{n: n, wall: time.Since(start), cpu: cpuTime() - cpu0, workers: workers}
	for _, err := range errs {
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// finishCell signs every user in through Connector.Finish, as the ACS
// handler calls it: the posted form (SAMLResponse, RelayState) and the
// state Begin returned. A fresh Connector and replay record per cell, so
// each assertion id is new to it.
func finishCell(c *connection, ls []login, forms []string, workers int) (result, error) {
	conn, err := c.connector()
	if err != nil {
		return result{}, err
	}
	return parallel(len(ls), workers, func(i int) error {
		r := httptest.NewRequest(http.MethodPost, acsURL, strings.NewReader(forms[i]))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		id, err := conn.Finish(context.Background(), r, ls[i].state)
		if err != nil {
			return err
		}
		if id.Email == "" || id.Subject != id.Email {
			return fmt.Errorf("identity %+v lacks its email", id)
		}
		return nil
	})
}

// forms are the ACS request bodies, made once: the browser's work.
func forms(ls []login) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(l.response)}, "RelayState": {"rs"}}.Encode()
	}
	return out
}

// rawCell is the floor under Finish: parse the same bytes with etree,
// canonicalize the Assertion and verify its signature with goxmldsig
// (digest and RSA-2048 SHA-256), and nothing else. One validation context,
// as a caller that does only this would keep.
func rawCell(c *connection, ls []login, workers int) (result, error) {
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{c.idp.Certificate}})
	now := c.cfg.Now()
	vc.Clock = dsig.NewFakeClockAt(now)
	return parallel(len(ls), workers, func(i int) error {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(ls[i].response); err != nil {
			return err
		}
		a := doc.Root().FindElement("./Assertion")
		if a == nil {
			return fmt.Errorf("no Assertion")
		}
		_, err := vc.Validate(a)
		return err
	})
}
