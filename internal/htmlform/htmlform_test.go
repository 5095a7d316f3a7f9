package htmlform

import (
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// consent is web/templates/consent.html as rendered.
const consent = `<!doctype html>
<html lang="en"><head><title>Sign in</title>
<style nonce="n0nce">form{display:block} /* <form action="/style"> */</style></head>
<body><main>
<h1>Allow Acme CRM to use your account?</h1>
<form method="post" action="/consent">
<input type="hidden" name="authRequest" value="areq_01">
<input type="hidden" name="csrf" value="c&amp;s+rf=">
<input type="hidden" name="ticket" value="t1">
<input type="hidden" name="organization" value="org_02">
<div class="actions">
<button type="submit" name="action" value="deny" class="secondary">Deny</button>
<button type="submit" name="action" value="allow">Allow</button>
</div>
</form>
</main></body></html>`

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		page string
		want []Form
	}{
		{"no form", `<p>You have signed out.</p>`, nil},
		{"consent page", consent, []Form{{
			Action: "/consent", Method: "POST",
			Fields: []Field{
				{Name: "authRequest", Type: "hidden", Value: "areq_01"},
				{Name: "csrf", Type: "hidden", Value: "c&s+rf="},
				{Name: "ticket", Type: "hidden", Value: "t1"},
				{Name: "organization", Type: "hidden", Value: "org_02"},
			},
			Buttons: []Button{{Name: "action", Value: "deny", Label: "Deny"}, {Name: "action", Value: "allow", Label: "Allow"}},
		}}},
		{"login page", `<form method="post" action="/login" novalidate>
<input type="hidden" name="authRequest" value="areq_01">
<label for="email">Email</label>
<input type="email" id="email" name="email" value="ada@example.com" autocomplete="username" required autofocus
 aria-describedby="hint">
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`, []Form{{
			Action: "/login", Method: "POST",
			Fields: []Field{
				{Name: "authRequest", Type: "hidden", Value: "areq_01"},
				{Name: "email", Type: "email", Value: "ada@example.com"},
				{Name: "password", Type: "password"},
			},
			Buttons: []Button{{Label: "Sign in"}},
		}}},
		{"organization picker: buttons with markup inside", `<form method="post" action="/login/organization">
<input type="hidden" name="ticket" value="t">
<ul><li><button type="submit" name="organization" value="org_1" class="choice">
  <span class="name">Acme &amp; Co</span> <span class="slug">acme</span></button></li>
<li><button type="submit" name="organization" value="org_2" class="choice"><span>Globex</span></button></li></ul>
<button type="submit" name="action" value="switch" class="secondary">Use another account</button>
</form>`, []Form{{
			Action: "/login/organization", Method: "POST",
			Fields: []Field{{Name: "ticket", Type: "hidden", Value: "t"}},
			Buttons: []Button{
				{Name: "organization", Value: "org_1", Label: "Acme & Co acme"},
				{Name: "organization", Value: "org_2", Label: "Globex"},
				{Name: "action", Value: "switch", Label: "Use another account"},
			},
		}}},
		{"two forms, defaults", `<form><input name=q value=go></form><FORM ACTION='/b' Method=Post><INPUT NAME="x"></FORM>`, []Form{
			{Method: "GET", Fields: []Field{{Name: "q", Type: "text", Value: "go"}}},
			{Action: "/b", Method: "POST", Fields: []Field{{Name: "x", Type: "text"}}},
		}},
		{"quoted '>' and entities in values", `<form action="/a?x=1&amp;y=2"><input type="hidden" name="n" value="a>b &lt;c&gt; &#39;d&#39;"></form>`, []Form{{
			Action: "/a?x=1&y=2", Method: "GET", Fields: []Field{{Name: "n", Type: "hidden", Value: "a>b <c> 'd'"}},
		}}},
		{"first of two attributes wins", `<form><input name="a" name="b" value="1" value="2"></form>`, []Form{{
			Method: "GET", Fields: []Field{{Name: "a", Type: "text", Value: "1"}},
		}}},
		{"markup in comments, scripts and textareas is not markup", `<!-- <form action="/c"> --><script>if (a < b) document.write('<form action="/s"></form>')</script>
<form action="/real"><textarea name="t"><input name="no"></textarea><input name="yes" value="1"></form>`, []Form{{
			Action: "/real", Method: "GET", Fields: []Field{{Name: "yes", Type: "text", Value: "1"}},
		}}},
		{"nested form tag is ignored", `<form action="/outer"><input name="a"><form action="/inner"><input name="b"></form><input name="c"></form>`, []Form{{
			Action: "/outer", Method: "GET", Fields: []Field{{Name: "a", Type: "text"}, {Name: "b", Type: "text"}},
		}}},
		{"inputs outside forms are left out", `<input name="lost"><form><input name="kept"></form><input name="lost2">`, []Form{{
			Method: "GET", Fields: []Field{{Name: "kept", Type: "text"}},
		}}},
		{"unnamed, disabled and non-submitting inputs", `<form><input value="anon"><input name="d" disabled><input type="reset" name="r"><input type="button" name="b">
<input type="file" name="f"><button type="button" name="js">JS</button><button name="off" disabled>Off</button><input type="submit" name="go" value=" Go  on "></form>`, []Form{{
			Method: "GET", Buttons: []Button{{Name: "go", Value: " Go  on ", Label: "Go on"}},
		}}},
		{"checkboxes and radios", `<form><input type="checkbox" name="remember" checked><input type="checkbox" name="spam" value="yes"><input type="radio" name="r" value="1"><input type="radio" name="r" value="2" checked></form>`, []Form{{
			Method: "GET", Fields: []Field{
				{Name: "remember", Type: "checkbox", Value: "on", Checked: true},
				{Name: "spam", Type: "checkbox", Value: "yes"},
				{Name: "r", Type: "radio", Value: "1"},
				{Name: "r", Type: "radio", Value: "2", Checked: true},
			},
		}}},
		{"truncated page keeps what was read", `<form method=post action=/x><input type=hidden name=csrf value=abc><button name=action value=allow>Al`, []Form{{
			Action: "/x", Method: "POST", Fields: []Field{{Name: "csrf", Type: "hidden", Value: "abc"}},
			Buttons: []Button{{Name: "action", Value: "allow", Label: "Al"}},
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Parse(tc.page); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestFormMethods(t *testing.T) {
	f := Parse(consent)[0]
	if v, ok := f.Value("csrf"); !ok || v != "c&s+rf=" {
		t.Errorf("Value(csrf) = %q, %v", v, ok)
	}
	if _, ok := f.Value("action"); ok {
		t.Error("Value(action) found a button; buttons are not fields")
	}
	if !f.Has("ticket") || f.Has("password") {
		t.Error("Has: want ticket and not password")
	}
	if got, want := f.ButtonValues("action"), []string{"deny", "allow"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ButtonValues(action) = %q, want %q", got, want)
	}
	want := url.Values{"authRequest": {"areq_01"}, "csrf": {"c&s+rf="}, "ticket": {"t1"}, "organization": {"org_02"}}
	if got := f.Values(); !reflect.DeepEqual(got, want) {
		t.Errorf("Values = %v, want %v", got, want)
	}
	want.Set("action", "allow")
	if got, ok := f.Submit("action", "allow"); !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("Submit(action, allow) = %v, %v; want %v", got, ok, want)
	}
	if _, ok := f.Submit("action", "maybe"); ok {
		t.Error("Submit(action, maybe) pressed a button the form does not have")
	}
	checks := Parse(`<form><input type="checkbox" name="a" checked><input type="checkbox" name="b"><input type="radio" name="r" value="2" checked></form>`)[0]
	if got, want := checks.Values(), (url.Values{"a": {"on"}, "r": {"2"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("Values with checkboxes = %v, want %v", got, want)
	}

	page, _ := url.Parse("https://id.example/login?authRequest=1#top")
	for _, tc := range []struct{ action, want string }{
		{"/consent", "https://id.example/consent"},
		{"", "https://id.example/login?authRequest=1"},
		{"next", "https://id.example/next"},
		{"https://other.example/x", "https://other.example/x"},
	} {
		got, err := Form{Action: tc.action}.ActionURL(page)
		if err != nil || got.String() != tc.want {
			t.Errorf("ActionURL(%q) = %v, %v; want %s", tc.action, got, err, tc.want)
		}
	}
	if _, err := (Form{Action: "http://[::1"}).ActionURL(page); err == nil {
		t.Error("ActionURL of a malformed action: no error")
	}
}

// FuzzParse: no page makes Parse panic, and what it returns is consistent:
// no more forms than "<form" in the page, methods upper case, every field
// named and every value it sends one of the form's fields.
func FuzzParse(f *testing.F) {
	f.Add(consent)
	for _, s := range []string{
		"", "<", "</", "<form", "<form ", "<form a", "<form a=", `<form a="`, "<form></form>", "<!--", "<!-- -->",
		"<script>", "<script></scrip", "<title></title ", "</form x=\">\">", "<form><button><button></form>",
		"<form><input name=a value='\x00\xff'></form>", "<FoRm MeThOd=pOsT><InPuT NaMe=İ value=&amp;&#0;&#x110000;>",
		`<form =a action="/x" ="><input name="n" value=v/></form>`,
	} {
		f.Add(s)
	}
	templates, _ := filepath.Glob(filepath.Join("..", "..", "web", "templates", "*.html"))
	for _, p := range templates {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, page string) {
		forms := Parse(page)
		if n := strings.Count(asciiLower(page), "<form"); len(forms) > n {
			t.Fatalf("%d forms from a page with %d <form", len(forms), n)
		}
		for _, fm := range forms {
			if fm.Method != strings.ToUpper(fm.Method) || fm.Method == "" {
				t.Fatalf("method %q", fm.Method)
			}
			for _, fl := range fm.Fields {
				if fl.Name == "" {
					t.Fatalf("unnamed field %+v", fl)
				}
			}
			for name := range fm.Values() {
				if !fm.Has(name) {
					t.Fatalf("Values sends %q, not a field", name)
				}
			}
			for _, b := range fm.Buttons {
				if _, ok := fm.Submit(b.Name, b.Value); !ok {
					t.Fatalf("Submit cannot press its own button %+v", b)
				}
			}
			if base, err := url.Parse("https://id.example/p"); err == nil {
				_, _ = fm.ActionURL(base)
			}
		}
	})
}
