// Package breached tells whether a password is one that attackers try
// first: NIST SP 800-63B §3.1.1.2 asks verifiers to refuse passwords found
// in breach corpora and lists of commonly used values. The list ships with
// the binary (passwords.txt.gz, embedded), so a check never leaves the
// process and needs no network.
//
// Source: the "passwords" frequency list of zxcvbn, built from breach
// corpora, as shipped in the Go module github.com/trustelem/zxcvbn v1.0.1
// (data/passwords.txt, MIT licence: LICENSE-zxcvbn.txt): 47,023 entries,
// lower-cased and sorted, 137,354 bytes compressed (368,255 plain).
// gen/main.go writes the file (`go generate`); only the data is copied,
// Gatehouse does not import zxcvbn. SecLists' NCSC list is not included: it could not be
// obtained offline when the list was built.
package breached

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

//go:generate go run gen/main.go

//go:embed passwords.txt.gz
var compressed []byte

// MinStem is the fewest characters left after stripping trailing digits
// and symbols for the stripped form to be looked up too: "love2024!"
// matches "love", but "x" followed by twenty digits is not refused because
// "x" is on the list.
const MinStem = 4

// list is the decompressed list, loaded on first use: the sorted entries,
// each ended by '\n', in one string, and where each starts. One string and
// an offset each keep the resident size near the data itself (about
// 368 KB and 188 KB) instead of a string header or map bucket per entry.
var list struct {
	once   sync.Once
	data   string
	starts []uint32
}

func load() {
	list.once.Do(func() {
		zr, err := gzip.NewReader(bytes.NewReader(compressed))
		if err != nil {
			panic(fmt.Sprintf("breached: embedded list: %v", err)) // the build is broken, not the input
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			panic(fmt.Sprintf("breached: embedded list: %v", err))
		}
		list.data = string(b)
		list.starts = make([]uint32, 0, bytes.Count(b, []byte{'\n'}))
		for i := 0; i < len(b); {
			list.starts = append(list.starts, uint32(i))
			i += bytes.IndexByte(b[i:], '\n') + 1
		}
	})
}

// entry is the i-th entry of the list.
func entry(i int) string {
	s := list.data[list.starts[i]:]
	return s[:strings.IndexByte(s, '\n')]
}

// Len is the number of entries on the list.
func Len() int {
	load()
	return len(list.starts)
}

// EmbeddedBytes is the size of the compressed list in the binary.
func EmbeddedBytes() int { return len(compressed) }

// Contains reports whether pw is on the list, ignoring case, or would be
// once its trailing digits, punctuation and symbols are stripped
// ("Password123!" is "password") and at least MinStem characters remain.
func Contains(pw string) bool {
	load()
	pw = strings.ToLower(pw)
	if pw == "" {
		return false
	}
	if has(pw) {
		return true
	}
	stem := strings.TrimRightFunc(pw, func(r rune) bool { return !unicode.IsLetter(r) })
	return stem != pw && utf8.RuneCountInString(stem) >= MinStem && has(stem)
}

// has looks w up by binary search.
func has(w string) bool {
	i := sort.Search(len(list.starts), func(i int) bool { return entry(i) >= w })
	return i < len(list.starts) && entry(i) == w
}
