package saml

import (
	"encoding/json"
	"time"
)

// state is what Begin hands the web layer to keep server-side with the
// login transaction and give back to Finish: the AuthnRequest's id, which
// the answer must name in InResponseTo, and the connection it was sent
// for, so that a state cannot be finished at another connection.
type state struct {
	Version      int       `json:"v"`
	ConnectionID string    `json:"conn"`
	RequestID    string    `json:"rid"`
	IssuedAt     time.Time `json:"iat"`
}

const stateVersion = 1

func (c *Connector) encodeState(requestID string, now time.Time) []byte {
	b, _ := json.Marshal(state{Version: stateVersion, ConnectionID: string(c.cfg.ConnectionID), RequestID: requestID, IssuedAt: now.UTC()})
	return b
}

func (c *Connector) decodeState(b []byte) (state, error) {
	var s state
	if len(b) > 1024 {
		return s, reject(CodeState, "state of %d bytes is not one Begin made", len(b))
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, reject(CodeState, "state is not one Begin made: %v", err)
	}
	if s.Version != stateVersion || s.RequestID == "" {
		return s, reject(CodeState, "state is not one Begin made (version %d, request id %q)", s.Version, s.RequestID)
	}
	if s.ConnectionID != string(c.cfg.ConnectionID) {
		return s, reject(CodeState, "state was made for connection %q, not %q", s.ConnectionID, c.cfg.ConnectionID)
	}
	return s, nil
}
