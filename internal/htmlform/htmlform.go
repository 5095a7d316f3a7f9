package htmlform

import (
	"html"
	"net/http"
	"net/url"
	"strings"
)

// Form is one <form> of a page.
type Form struct {
	// Action is the action attribute as written (unescaped), "" when absent;
	// ActionURL resolves it.
	Action string
	// Method is the method attribute in upper case, http.MethodGet when
	// absent.
	Method string
	// Fields are the form's named <input>s that are not buttons, in page
	// order, hidden ones included. Disabled inputs are left out: a browser
	// does not send them.
	Fields []Field
	// Buttons are the form's submitters (<button> of type submit, the
	// default, and <input type=submit|image>), in page order, named or not.
	Buttons []Button
}

// Field is one named input.
type Field struct {
	Name, Type, Value string
	// Checked is the checked attribute; it matters for checkboxes and radio
	// buttons only.
	Checked bool
}

// Button is one submitter. Submitting the form with it adds Name=Value
// when Name is not empty.
type Button struct {
	Name, Value string
	// Label is the button's text, spaces collapsed (the value of an input
	// submitter).
	Label string
}

// Parse returns the forms of page in page order. A <form> inside another is
// ignored, as browsers do, and inputs outside any form are left out.
func Parse(page string) []Form {
	var (
		forms  []Form
		cur    *Form // the open form, nil outside one
		button *Button
		label  strings.Builder
	)
	endButton := func() {
		if button != nil && cur != nil {
			button.Label = strings.Join(strings.Fields(label.String()), " ")
			cur.Buttons = append(cur.Buttons, *button)
		}
		button = nil
		label.Reset()
	}
	z := tokenizer{s: page}
	for {
		t, ok := z.next()
		if !ok {
			break
		}
		switch {
		case t.kind == text:
			if button != nil {
				label.WriteString(html.UnescapeString(t.text))
			}
		case t.kind == start && t.name == "form":
			if cur != nil {
				continue // nested: the parser ignores the tag
			}
			method := strings.ToUpper(t.attr("method"))
			if method == "" {
				method = http.MethodGet
			}
			forms = append(forms, Form{Action: t.attr("action"), Method: method})
			cur = &forms[len(forms)-1]
		case t.kind == end && t.name == "form":
			endButton()
			cur = nil
		case cur == nil:
		case t.kind == start && t.name == "input":
			input(cur, t)
		case t.kind == start && t.name == "button":
			endButton() // a <button> start tag closes an open button
			typ := strings.ToLower(t.attr("type"))
			if (typ == "" || typ == "submit") && !t.has("disabled") {
				button = &Button{Name: t.attr("name"), Value: t.attr("value")}
			}
		case t.kind == end && t.name == "button":
			endButton()
		}
	}
	endButton()
	return forms
}

func input(f *Form, t token) {
	if t.has("disabled") {
		return
	}
	typ := strings.ToLower(t.attr("type"))
	if typ == "" {
		typ = "text"
	}
	name := t.attr("name")
	switch typ {
	case "submit", "image":
		f.Buttons = append(f.Buttons, Button{Name: name, Value: t.attr("value"), Label: strings.Join(strings.Fields(t.attr("value")), " ")})
	case "button", "reset", "file":
	default:
		if name != "" {
			value := t.attr("value")
			if (typ == "checkbox" || typ == "radio") && !t.has("value") {
				value = "on"
			}
			f.Fields = append(f.Fields, Field{Name: name, Type: typ, Value: value, Checked: t.has("checked")})
		}
	}
}

// Value returns the value of the first field called name.
func (f Form) Value(name string) (string, bool) {
	for _, fl := range f.Fields {
		if fl.Name == name {
			return fl.Value, true
		}
	}
	return "", false
}

// Has tells whether the form has a field called name.
func (f Form) Has(name string) bool {
	_, ok := f.Value(name)
	return ok
}

// Values returns what the form sends without a submitter: every field,
// checkboxes and radio buttons only when checked.
func (f Form) Values() url.Values {
	v := url.Values{}
	for _, fl := range f.Fields {
		if (fl.Type == "checkbox" || fl.Type == "radio") && !fl.Checked {
			continue
		}
		v.Add(fl.Name, fl.Value)
	}
	return v
}

// ButtonValues returns the values of the buttons called name, in page
// order: the choices a form offers, such as its organizations.
func (f Form) ButtonValues(name string) []string {
	var vs []string
	for _, b := range f.Buttons {
		if b.Name == name {
			vs = append(vs, b.Value)
		}
	}
	return vs
}

// Submit returns what the form sends when the button name=value is pressed:
// Values plus name=value. It is false when the form has no such button.
func (f Form) Submit(name, value string) (url.Values, bool) {
	for _, b := range f.Buttons {
		if b.Name == name && b.Value == value {
			v := f.Values()
			if name != "" {
				v.Add(name, value)
			}
			return v, true
		}
	}
	return nil, false
}

// ActionURL resolves the action against page, the URL the form was read
// from; an empty action is the page itself, as in a browser. The fragment,
// which a request never carries, is dropped.
func (f Form) ActionURL(page *url.URL) (*url.URL, error) {
	u, err := page.Parse(f.Action)
	if err != nil {
		return nil, err
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}
