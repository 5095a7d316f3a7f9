package secret

import "testing"

func TestTokenIsRandomAndURLSafe(t *testing.T) {
	a, b := Token(32), Token(32)
	if a == b {
		t.Fatal("two tokens are equal")
	}
	if len(a) != 52 {
		t.Fatalf("len(Token(32)) = %d, want 52", len(a))
	}
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			t.Fatalf("token %q has %q outside lower-case base32", a, r)
		}
	}
}

func TestMatches(t *testing.T) {
	h := Hash("s3cret")
	if !Matches(h, "s3cret") {
		t.Error("Matches(Hash(x), x) = false")
	}
	for _, wrong := range []string{"", "s3cre", "s3cret ", "S3cret"} {
		if Matches(h, wrong) {
			t.Errorf("Matches(Hash(s3cret), %q) = true", wrong)
		}
	}
}
