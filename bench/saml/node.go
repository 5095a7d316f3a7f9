package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// nodeInput is what validate.mjs reads.
type nodeInput struct {
	Cert        string         `json:"cert"`
	IdPEntityID string         `json:"idpEntityID"`
	SPEntityID  string         `json:"spEntityID"`
	ACSURL      string         `json:"acsURL"`
	Warmup      int            `json:"warmup"`
	Responses   []nodeResponse `json:"responses"`
}

type nodeResponse struct {
	SAMLResponse string `json:"samlResponse"`
	RequestID    string `json:"requestID"`
}

// writeNodeInput writes the responses and the IdP certificate for Node
// to a temporary file and returns its name.
func writeNodeInput(c *connection, ls []login, warmup int) (string, error) {
	in := nodeInput{
		Cert:        base64.StdEncoding.EncodeToString(c.idp.Certificate.Raw),
		IdPEntityID: idpEntityID, SPEntityID: spEntityID, ACSURL: acsURL, Warmup: warmup,
	}
	for _, l := range ls {
		in.Responses = append(in.Responses, nodeResponse{SAMLResponse: base64.StdEncoding.EncodeToString(l.response), RequestID: l.requestID})
	}
	f, err := os.CreateTemp("", "samlbench-*.json")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := json.NewEncoder(f).Encode(in); err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

// nodeCell runs node-saml over every response in a Node process with
// workers threads and reads the rate it measured around its timed pass.
func nodeCell(dir, input string, workers int) (result, error) {
	script := "validate.mjs"
	cmd := exec.Command("node", script, input, fmt.Sprint(workers))
	cmd.Dir = dir
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("node %s/%s: %w\n%s", dir, script, err, stderr.Bytes())
	}
	var got struct {
		N          int     `json:"n"`
		Workers    int     `json:"workers"`
		Seconds    float64 `json:"seconds"`
		CPUSeconds float64 `json:"cpuSeconds"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		return result{}, fmt.Errorf("node's answer %q: %w", out.Bytes(), err)
	}
	return result{
		n: got.N, workers: got.Workers,
		wall: time.Duration(got.Seconds * float64(time.Second)),
		cpu:  time.Duration(got.CPUSeconds * float64(time.Second)),
	}, nil
}

// checkNode fails early, with the command that fixes it, when the Node
// side is not installed.
func checkNode(dir string) error {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("node is not on PATH: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@node-saml", "node-saml")); err != nil {
		return fmt.Errorf("node-saml is not installed in %s: run `npm ci --prefix %s`", dir, dir)
	}
	return nil
}

func execOutput(name string, args ...string) (string, error) {
	b, err := exec.Command(name, args...).Output()
	return string(b), err
}
