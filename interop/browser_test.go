package interop

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/interop/hosted"
)

// browser signs Ada in on the hosted pages (hosted.Browser), failing the
// test on a transport error or a runaway drive.
type browser struct {
	*hosted.Browser
	t *testing.T
}

func newBrowser(t *testing.T, s *Server) *browser {
	t.Helper()
	b, err := hosted.New(s.Issuer, userEmail, userPassword)
	if err != nil {
		t.Fatal(err)
	}
	b.Organization = s.OrgID
	return &browser{Browser: b, t: t}
}

// result is where a drive ended.
type result = hosted.Result

// drive starts at start (a URL on the server) and goes on as
// hosted.Browser describes.
func (b *browser) drive(start string) result {
	b.t.Helper()
	res, err := b.Drive(b.t.Context(), start)
	if err != nil {
		b.t.Fatal(err)
	}
	return res
}

// jwtClaims decodes the payload of a compact JWS without verifying it.
func jwtClaims(token string) (map[string]any, error) { return jwtPart(token, 1) }

// jwtHeader decodes the protected header of a compact JWS.
func jwtHeader(token string) (map[string]any, error) { return jwtPart(token, 0) }

// jwtPart decodes part i of a compact JWS as a JSON object.
func jwtPart(token string, i int) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}
