package web

import (
	"html/template"
	"net/url"
	"regexp"
	"strings"

	"github.com/gatehouse-id/gatehouse/ent"
)

// brandOf returns what of o's look may go into a page. The values were
// validated when they were stored; they are checked again here because a
// page is the wrong place to trust that.
func brandOf(o *ent.Organization) *brand {
	b := &brand{Name: o.Name}
	if safeLogoURL(o.LogoURL) {
		b.LogoURL = o.LogoURL
	}
	if safeColor(o.PrimaryColor) {
		b.Color = template.CSS(o.PrimaryColor) // #rgb or #rrggbb only, see safeColor
	}
	return b
}

// safeLogoURL accepts absolute https URLs with a host and no credentials.
func safeLogoURL(s string) bool {
	if s == "" || len(s) > 2048 || strings.ContainsAny(s, " \t\r\n\"'<>\\") {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
}

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// safeColor accepts #rgb and #rrggbb.
func safeColor(s string) bool { return hexColor.MatchString(s) }
