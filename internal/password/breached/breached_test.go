package breached

import (
	"sort"
	"strings"
	"sync"
	"testing"
)

func TestListIsSortedAndWhole(t *testing.T) {
	if n := Len(); n != 47023 {
		t.Errorf("Len() = %d, want the 47,023 entries of zxcvbn's passwords list (regenerate? update the doc)", n)
	}
	if !sort.SliceIsSorted(list.starts, func(i, j int) bool { return entry(i) < entry(j) }) {
		t.Error("the embedded list is not sorted: binary search would miss entries")
	}
	for i := range list.starts {
		if e := entry(i); e == "" || e != strings.ToLower(e) {
			t.Fatalf("entry %d = %q: want a non-empty lower-case entry", i, e)
		}
	}
}

func TestContains(t *testing.T) {
	for _, tc := range []struct {
		pw   string
		want bool
	}{
		{"password", true},
		{"PassWord", true},
		{"Password123!", true},  // stripped to "password"
		{"dragon2024!!", true},  // stripped to "dragon"
		{"123456", true},        // digits only, on the list as such
		{"qwertyuiop", true},    // keyboard walk
		{"iloveyou", true},      // phrase
		{"zz9999999999", false}, // stem "zz" is shorter than MinStem
		{"", false},             // nothing to look up
		{"correct horse battery staple", false},
		{"tXv8#kq!Lm02", false},
		{"passwordx", false}, // a longer word is not the listed one
		{"9password", false}, // only trailing characters are stripped
	} {
		if got := Contains(tc.pw); got != tc.want {
			t.Errorf("Contains(%q) = %v, want %v", tc.pw, got, tc.want)
		}
	}
	// Every entry is found, whatever its case.
	for _, i := range []int{0, 1, Len() / 2, Len() - 1} {
		if e := entry(i); !Contains(strings.ToUpper(e)) {
			t.Errorf("Contains(%q) = false for entry %d", strings.ToUpper(e), i)
		}
	}
}

func FuzzContains(f *testing.F) {
	for _, s := range []string{"password", "Password123!", "", "\xff\xfe", "ǅungla1", strings.Repeat("9", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		got := Contains(pw)
		if got != Contains(strings.ToUpper(pw)) && strings.ToLower(strings.ToUpper(pw)) == strings.ToLower(pw) {
			t.Errorf("Contains(%q) depends on case", pw)
		}
	})
}

func BenchmarkContains(b *testing.B) {
	load()
	words := []string{"password", "Password123!", "correct horse battery staple", "tXv8#kq!Lm02", "dragon2024!!"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		Contains(words[i%len(words)])
	}
}

func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		list.once = sync.Once{}
		load()
	}
}
