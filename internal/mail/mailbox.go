package mail

import (
	"context"
	"html/template"
	"net/http"
	"regexp"
	"sync"
	"time"
)

// MailboxSize is how many messages a Mailbox keeps.
const MailboxSize = 100

// Mailbox keeps the last MailboxSize messages in memory: the Sender of dev
// mode, read at /dev/mail and by tests. The zero value is ready; it is
// safe for concurrent use.
type Mailbox struct {
	// Now stamps each message as it arrives. Defaults to time.Now.
	Now func() time.Time

	mu    sync.Mutex
	ring  [MailboxSize]received
	next  int // where the next message goes
	count int // how many slots are filled
}

type received struct {
	Message
	At time.Time
}

// Send keeps m, dropping the oldest message when the Mailbox is full.
func (b *Mailbox) Send(_ context.Context, m Message) error {
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	at := now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ring[b.next] = received{m, at}
	b.next = (b.next + 1) % MailboxSize
	b.count = min(b.count+1, MailboxSize)
	return nil
}

// received returns the kept messages, newest first.
func (b *Mailbox) received() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]received, 0, b.count)
	for i := 1; i <= b.count; i++ {
		out = append(out, b.ring[(b.next-i+MailboxSize)%MailboxSize])
	}
	return out
}

// Messages returns the kept messages, newest first.
func (b *Mailbox) Messages() []Message {
	r := b.received()
	out := make([]Message, len(r))
	for i := range r {
		out[i] = r[i].Message
	}
	return out
}

// Last returns the newest message to the address to, and whether there is
// one.
func (b *Mailbox) Last(to string) (Message, bool) {
	for _, r := range b.received() {
		if r.To == to {
			return r.Message, true
		}
	}
	return Message{}, false
}

// Handler serves the Mailbox as a plain page, newest message first: what
// dev mode mounts at /dev/mail. The page has no script and no style, so it
// works under the strictest Content-Security-Policy; links in the text
// bodies are clickable.
func (b *Mailbox) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		page := make([]mailboxEntry, 0, MailboxSize)
		for _, m := range b.received() {
			page = append(page, mailboxEntry{m, linkify(m.Text)})
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		// The bodies hold sign-in links: no page they lead to may learn
		// this one's address.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		if err := mailboxPage.Execute(w, page); err != nil {
			http.Error(w, "render mailbox", http.StatusInternalServerError)
		}
	})
}

type mailboxEntry struct {
	received
	Text []textPiece
}

// textPiece is a run of a text body: plain text, or a link.
type textPiece struct {
	Text string
	Link bool
}

var links = regexp.MustCompile(`https?://[^\s<>"']+`)

// linkify splits text into plain runs and http(s) links; the template
// escapes both, and html/template refuses any URL scheme but http(s).
func linkify(text string) []textPiece {
	var out []textPiece
	last := 0
	for _, loc := range links.FindAllStringIndex(text, -1) {
		if loc[0] > last {
			out = append(out, textPiece{Text: text[last:loc[0]]})
		}
		out = append(out, textPiece{Text: text[loc[0]:loc[1]], Link: true})
		last = loc[1]
	}
	if last < len(text) {
		out = append(out, textPiece{Text: text[last:]})
	}
	return out
}

var mailboxPage = template.Must(template.New("mailbox").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dev mailbox</title>
</head>
<body>
<main>
<h1>Dev mailbox</h1>
<p>The last {{len .}} messages this server sent, newest first. Only in dev mode, or on a loopback issuer without GATEHOUSE_SMTP_URL.</p>
{{range .}}<article>
<h2>{{.Subject}}</h2>
<dl>
<dt>To</dt><dd>{{.To}}</dd>
<dt>Sent</dt><dd><time datetime="{{.At.UTC.Format "2006-01-02T15:04:05Z"}}">{{.At.UTC.Format "2006-01-02 15:04:05 UTC"}}</time></dd>
<dt>Kind</dt><dd>{{.Kind}}</dd>
</dl>
<pre>{{range .Text}}{{if .Link}}<a href="{{.Text}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{end}}</pre>
{{if .HTML}}<details><summary>HTML part</summary><pre>{{.HTML}}</pre></details>{{end}}
</article>
<hr>
{{else}}<p>No messages yet.</p>
{{end}}</main>
</body>
</html>
`))
