package htmlform

import (
	"html"
	"strings"
)

type kind int

const (
	text kind = iota
	start
	end
)

// token is a start tag, an end tag or a run of text. Names are lower case;
// attribute values are unescaped.
type token struct {
	kind  kind
	name  string
	attrs [][2]string
	text  string
}

// attr returns the value of the attribute name (lower case), "" when absent.
func (t token) attr(name string) string {
	v, _ := t.lookup(name)
	return v
}

func (t token) has(name string) bool {
	_, ok := t.lookup(name)
	return ok
}

func (t token) lookup(name string) (string, bool) {
	for _, a := range t.attrs {
		if a[0] == name {
			return a[1], true
		}
	}
	return "", false
}

// tokenizer splits a page into tokens, following the shape of the HTML
// tokenizer (WHATWG HTML §13.2.5) closely enough for forms: comments,
// doctypes and processing instructions are skipped, the contents of
// <script>, <style>, <textarea> and <title> are text however they look, and
// attribute values may hold '>' when quoted.
type tokenizer struct {
	s   string
	i   int
	raw string // the element whose text is raw until its end tag, or ""
}

func (z *tokenizer) next() (token, bool) {
	for z.i < len(z.s) {
		if z.raw != "" {
			return z.rawText(), true
		}
		if z.s[z.i] != '<' {
			j := strings.IndexByte(z.s[z.i:], '<')
			if j < 0 {
				j = len(z.s) - z.i
			}
			t := token{kind: text, text: z.s[z.i : z.i+j]}
			z.i += j
			return t, true
		}
		rest := z.s[z.i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			j := strings.Index(rest[4:], "-->")
			if j < 0 {
				z.i = len(z.s)
			} else {
				z.i += 4 + j + 3
			}
		case strings.HasPrefix(rest, "<!"), strings.HasPrefix(rest, "<?"):
			z.skipPast('>')
		case strings.HasPrefix(rest, "</"):
			if len(rest) > 2 && isLetter(rest[2]) {
				z.i += 2
				name := z.tagName()
				z.attributes() // end tags may carry attributes; they mean nothing
				return token{kind: end, name: name}, true
			}
			z.skipPast('>') // "</>" or "</ x>": a bogus comment
		case len(rest) > 1 && isLetter(rest[1]):
			z.i++
			t := token{kind: start, name: z.tagName()}
			t.attrs = z.attributes()
			switch t.name {
			case "script", "style", "textarea", "title":
				z.raw = t.name
			}
			return t, true
		default:
			// A '<' that starts no tag is text.
			z.i++
			return token{kind: text, text: "<"}, true
		}
	}
	return token{}, false
}

// rawText returns the text up to the raw element's end tag, which comes
// next.
func (z *tokenizer) rawText() token {
	closing := "</" + z.raw
	z.raw = ""
	rest := z.s[z.i:]
	lower := asciiLower(rest) // same length as rest, unlike strings.ToLower
	from := 0
	for {
		j := strings.Index(lower[from:], closing)
		if j < 0 {
			z.i = len(z.s)
			return token{kind: text, text: rest}
		}
		k := from + j + len(closing)
		if k == len(lower) || strings.IndexByte("\t\n\f\r />", lower[k]) >= 0 {
			z.i += from + j
			return token{kind: text, text: rest[:from+j]}
		}
		from = k // "</titles": not the end tag
	}
}

func (z *tokenizer) skipPast(c byte) {
	j := strings.IndexByte(z.s[z.i:], c)
	if j < 0 {
		z.i = len(z.s)
		return
	}
	z.i += j + 1
}

func (z *tokenizer) tagName() string {
	j := z.i
	for j < len(z.s) && !isSpace(z.s[j]) && z.s[j] != '/' && z.s[j] != '>' {
		j++
	}
	name := asciiLower(z.s[z.i:j])
	z.i = j
	return name
}

// attributes reads attributes up to and including the tag's '>'. The first
// of two attributes with one name wins, as in browsers.
func (z *tokenizer) attributes() [][2]string {
	var attrs [][2]string
	for {
		for z.i < len(z.s) && (isSpace(z.s[z.i]) || z.s[z.i] == '/') {
			z.i++
		}
		if z.i >= len(z.s) {
			return attrs
		}
		if z.s[z.i] == '>' {
			z.i++
			return attrs
		}
		// A name runs to a space, '/', '>' or '='; an '=' first is part of it.
		j := z.i + 1
		for j < len(z.s) && !isSpace(z.s[j]) && z.s[j] != '/' && z.s[j] != '>' && z.s[j] != '=' {
			j++
		}
		name := asciiLower(z.s[z.i:j])
		z.i = j
		for z.i < len(z.s) && isSpace(z.s[z.i]) {
			z.i++
		}
		value := ""
		if z.i < len(z.s) && z.s[z.i] == '=' {
			z.i++
			for z.i < len(z.s) && isSpace(z.s[z.i]) {
				z.i++
			}
			value = z.value()
		}
		if _, seen := (token{attrs: attrs}).lookup(name); !seen {
			attrs = append(attrs, [2]string{name, html.UnescapeString(value)})
		}
	}
}

func (z *tokenizer) value() string {
	if z.i >= len(z.s) {
		return ""
	}
	if q := z.s[z.i]; q == '"' || q == '\'' {
		j := strings.IndexByte(z.s[z.i+1:], q)
		if j < 0 {
			v := z.s[z.i+1:]
			z.i = len(z.s)
			return v
		}
		v := z.s[z.i+1 : z.i+1+j]
		z.i += 1 + j + 1
		return v
	}
	j := z.i
	for j < len(z.s) && !isSpace(z.s[j]) && z.s[j] != '>' {
		j++
	}
	v := z.s[z.i:j]
	z.i = j
	return v
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// asciiLower lowers A-Z only, as HTML does for tag and attribute names.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
