package tenants

import (
	"errors"
	"testing"
)

// FuzzFunnelDay: a funnel range bound is exactly YYYY-MM-DD of a real day,
// or an InputError on its field; never a panic, never another error.
func FuzzFunnelDay(f *testing.F) {
	for _, s := range []string{"2026-12-06", "2024-02-29", "2025-02-29", "2026-1-01", "0000-00-00", "9999-12-31",
		"2026-12-06T00:00:00Z", " 2026-12-06", "2026-12-06\x00", "+2026-12-06", "", "-001-01-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseFunnelDay("from", s)
		if err != nil {
			var in *InputError
			if !errors.As(err, &in) || in.Field != "from" {
				t.Fatalf("parseFunnelDay(%q): %v, want an InputError on from", s, err)
			}
			return
		}
		if len(s) != 10 || d.Format(funnelDay) != s || d.Location().String() != "UTC" {
			t.Fatalf("parseFunnelDay(%q) accepted %v", s, d)
		}
	})
}
