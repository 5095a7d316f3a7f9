package httpserver_test

import (
	"net/url"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/httpserver"
)

func TestSameOrigin(t *testing.T) {
	site, err := url.Parse("https://id.example.com")
	if err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]bool{
		"https://id.example.com":      true,
		"https://ID.Example.com":      true,
		"http://id.example.com":       false,
		"https://id.example.com:8443": false,
		"https://evil.example":        false,
		"null":                        false,
		"":                            false,
		"://":                         false,
	} {
		if got := httpserver.SameOrigin(origin, site); got != want {
			t.Errorf("SameOrigin(%q) = %v, want %v", origin, got, want)
		}
	}
	if httpserver.SameOrigin("https://id.example.com", nil) {
		t.Error("an origin matched no site")
	}
}
