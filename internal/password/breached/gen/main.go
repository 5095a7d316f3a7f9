//go:build ignore

// Command gen writes passwords.txt.gz, the list Contains looks up: the
// "passwords" frequency list of zxcvbn (passwords seen most often in breach
// corpora), as shipped in the Go module github.com/trustelem/zxcvbn v1.0.1
// (data/passwords.txt, MIT licence, © 2018 Vincent Vanackere and
// Trustelem; the list itself comes from dropbox/zxcvbn). Only the data is
// copied: Gatehouse does not import zxcvbn.
//
// Each entry is lower-cased (Contains folds case), duplicates are dropped
// and the rest sorted byte-wise, one a line, gzip-compressed without a
// timestamp so that the output is the same on every run. Run it with
// `go generate ./internal/password/breached`; it downloads the module into
// the module cache when it is not there yet.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

const (
	module  = "github.com/trustelem/zxcvbn"
	version = "v1.0.1"
	file    = "data/passwords.txt"
	out     = "passwords.txt.gz"
)

func main() {
	log.SetFlags(0)
	dir, err := moduleDir()
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, file))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	var words []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "password        20785": the entry, then its count in the corpus.
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		w := strings.ToLower(fields[0])
		if !utf8.ValidString(w) || seen[w] {
			continue
		}
		seen[w] = true
		words = append(words, w)
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	slices.Sort(words)
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := zw.Write([]byte(strings.Join(words, "\n") + "\n")); err != nil {
		log.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d entries from %s@%s/%s, %d bytes\n", out, len(words), module, version, file, buf.Len())
}

// moduleDir is where the go command keeps the source module.
func moduleDir() (string, error) {
	b, err := exec.Command("go", "mod", "download", "-json", module+"@"+version).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", module, version, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	if m.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", module, version, m.Error)
	}
	return m.Dir, nil
}
