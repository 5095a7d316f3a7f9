package web

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestStrengthScript checks web/static/strength.js, the advisory password
// strength hint: small, standalone, and rating what it should. The ratings
// run in Node when it is installed (the Chromium tests load the pages that
// use it).
func TestStrengthScript(t *testing.T) {
	src, err := os.ReadFile("static/strength.js")
	if err != nil {
		t.Fatal(err)
	}
	if len(src) >= 4096 {
		t.Errorf("strength.js is %d bytes, want under 4 KB", len(src))
	}
	for _, dep := range []string{"import ", "require(", "fetch(", "XMLHttpRequest", "eval(", "innerHTML"} {
		if strings.Contains(string(src), dep) {
			t.Errorf("strength.js uses %q: it must stand alone and write text only", dep)
		}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed: ratings not checked")
	}
	// A stub DOM: one input with minlength 10 and its form's output.
	harness := `
const src = require("fs").readFileSync(process.argv[1], "utf8");
let handler; const out = {textContent: "", attrs: {}, setAttribute(k, v) { this.attrs[k] = v }, removeAttribute(k) { delete this.attrs[k] }};
const input = {value: "", minLength: 10, getAttribute: () => "", addEventListener: (_, f) => { handler = f },
  form: {querySelector: (q) => q === "[data-strength-meter]" ? out : null}};
globalThis.document = {querySelectorAll: () => [input]};
eval(src);
for (const pw of process.argv.slice(2)) { input.value = pw; handler(); console.log(out.attrs["data-level"] + "|" + out.textContent); }
`
	cases := []struct{ pw, level, hint string }{
		{"kx7vq2m", "weak", "Too short: use at least 10 characters."},
		{"Password123!", "weak", "most common"},
		{"qwertyuiop", "weak", "most common"},
		{"aaaaaaaaaaaa", "weak", "repeated"},
		{"abcdefghijkl", "weak", "sequences"},
		{"mypets4life", "fair", ""},
		{"kx7vq2mzpl", "fair", "longer"},
		{"correct horse battery staple", "strong", ""},
		{"\u00c5ngstr\u00f6m vi\u00f0 fj\u00f6r\u00f0inn", "strong", ""},
	}
	args := []string{"-e", harness, "static/strength.js"}
	for _, c := range cases {
		args = append(args, c.pw)
	}
	b, err := exec.Command(node, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, b)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("node printed %q", b)
	}
	for i, c := range cases {
		level, text, _ := strings.Cut(lines[i], "|")
		if level != c.level || !strings.Contains(text, c.hint) {
			t.Errorf("%q: %s %q; want %s with %q", c.pw, level, text, c.level, c.hint)
		}
	}
}
