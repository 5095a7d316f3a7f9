package mail

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMailboxRing(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	b := &Mailbox{Now: func() time.Time { return now }}
	if _, ok := b.Last("nobody@example.com"); ok || len(b.Messages()) != 0 {
		t.Fatal("an empty mailbox has messages")
	}
	for i := range MailboxSize + 5 {
		_ = b.Send(context.Background(), Message{To: fmt.Sprintf("u%d@example.com", i%7), Subject: fmt.Sprint(i)})
	}
	got := b.Messages()
	if len(got) != MailboxSize || got[0].Subject != fmt.Sprint(MailboxSize+4) || got[MailboxSize-1].Subject != "5" {
		t.Fatalf("%d messages, newest %q, oldest %q", len(got), got[0].Subject, got[len(got)-1].Subject)
	}
	// Newest to u0 is the last i with i%7 == 0 below 105.
	if m, ok := b.Last("u0@example.com"); !ok || m.Subject != "98" {
		t.Fatalf("Last: %q %v", m.Subject, ok)
	}
}

func TestMailboxConcurrent(t *testing.T) {
	b := &Mailbox{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				_ = b.Send(context.Background(), Message{To: fmt.Sprintf("w%d@example.com", w), Subject: fmt.Sprint(i)})
				b.Last("w0@example.com")
				b.Messages()
			}
		})
	}
	wg.Wait()
	if len(b.Messages()) != 80 {
		t.Fatalf("%d messages", len(b.Messages()))
	}
	for w := range 8 {
		if m, ok := b.Last(fmt.Sprintf("w%d@example.com", w)); !ok || m.Subject != "9" {
			t.Errorf("w%d: %q %v", w, m.Subject, ok)
		}
	}
}

func TestMailboxHandler(t *testing.T) {
	b := &Mailbox{Now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
	h := b.Handler()
	get := func() (*http.Response, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dev/mail", nil))
		body, _ := io.ReadAll(rec.Result().Body)
		return rec.Result(), string(body)
	}
	if _, body := get(); !strings.Contains(body, "No messages yet.") {
		t.Fatalf("empty mailbox: %s", body)
	}
	_ = b.Send(context.Background(), Message{To: "old@example.com", Subject: "first", Text: "old"})
	_ = b.Send(context.Background(), Message{
		To: "<script>alert(1)</script>@example.com", Subject: `"><img src=x onerror=alert(1)>`, Kind: "login_code",
		Text: "Your code: 123456\nSign in: https://id.example.com/login/code?t=a&b=<c>\nor javascript:alert(1)\n",
		HTML: "<p onclick=alert(1)>hi</p>",
	})
	res, body := get()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("status %d headers %v", res.StatusCode, res.Header)
	}
	for _, bad := range []string{"<script", "<img", "<p onclick", "style=", "<style", `href="javascript`} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q:\n%s", bad, body)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;@example.com",
		"Your code: 123456",
		`<a href="https://id.example.com/login/code?t=a&amp;b=">https://id.example.com/login/code?t=a&amp;b=</a>&lt;c&gt;`,
		"<time datetime=\"2027-01-15T08:00:00Z\">2027-01-15 08:00:00 UTC</time>",
		"&lt;p onclick=alert(1)&gt;hi&lt;/p&gt;",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s:\n%s", want, body)
		}
	}
	if strings.Index(body, "login_code") > strings.Index(body, "old@example.com") {
		t.Error("older message shown first")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/dev/mail", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", rec.Code)
	}
}
