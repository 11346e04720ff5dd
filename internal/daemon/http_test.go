package daemon

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/internal/metrics"
)

// webhookDaemon is a Daemon with only what the webhook handler uses.
func webhookDaemon() *Daemon {
	return &Daemon{cfg: Config{Log: hclog.NewNullLogger(), Metrics: metrics.New("s")}, trigger: make(chan struct{}, 1)}
}

func post(t *testing.T, url, signature, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/hooks/git", strings.NewReader(body))
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Issue 13, item 8: the signature is checked before anything else, a body
// over the limit is answered 413, and only a signed request triggers.
func TestWebhookChecksSignatureFirstAndLimitsTheBody(t *testing.T) {
	d := webhookDaemon()
	srv := httptest.NewServer(d.Handler("s3cret"))
	defer srv.Close()
	const payload = `{"ref":"refs/heads/main"}`

	huge := strings.Repeat("x", maxWebhookBody+1)
	if code := post(t, srv.URL, sign("s3cret", huge), huge); code != http.StatusRequestEntityTooLarge {
		t.Errorf("signed body of %d bytes = %d, want 413", len(huge), code)
	}
	if code := post(t, srv.URL, "", huge); code != http.StatusUnauthorized {
		t.Errorf("unsigned body of %d bytes = %d, want 401 before the body is read", len(huge), code)
	}
	d.SetStandby(true)
	for _, bad := range []string{"", "sha256=00", sign("wrong", payload)} {
		if code := post(t, srv.URL, bad, payload); code != http.StatusUnauthorized {
			t.Errorf("standby replica, signature %q = %d, want 401 (the signature comes first)", bad, code)
		}
	}
	if code := post(t, srv.URL, sign("s3cret", payload), payload); code != http.StatusServiceUnavailable {
		t.Errorf("standby replica, signed = %d, want 503", code)
	}
	if len(d.trigger) != 0 {
		t.Fatal("a refused webhook triggered a reconcile")
	}
	d.SetStandby(false)
	if code := post(t, srv.URL, sign("s3cret", payload), payload); code != http.StatusAccepted || len(d.trigger) != 1 {
		t.Errorf("signed webhook = %d, triggered %d; want 202 and a trigger", code, len(d.trigger))
	}
}

// A client that sends its headers and then stalls is cut off after the read
// timeout; an idle kept-alive connection after the idle timeout.
func TestHTTPServerCutsOffStalledClients(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(webhookDaemon().Handler("s3cret"), HTTPTimeouts{ReadHeader: 300 * time.Millisecond, Read: 300 * time.Millisecond, Write: time.Second, Idle: 300 * time.Millisecond})
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	for name, request := range map[string]string{
		"stalled body":    "POST /hooks/git HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: " + sign("s3cret", "{}") + "\r\nContent-Length: 100\r\n\r\n{",
		"stalled headers": "GET /healthz HTTP/1.1\r\nHost: x\r\n",
		"idle keep-alive": "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			if _, err := io.WriteString(conn, request); err != nil {
				t.Fatal(err)
			}
			// The server closes the connection: reading ends (after any
			// response) long before this deadline.
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = io.Copy(io.Discard, bufio.NewReader(conn))
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open after %s", time.Since(start))
			}
			t.Logf("closed by the server after %s", time.Since(start).Round(time.Millisecond))
		})
	}
	if d := DefaultHTTPTimeouts; d.ReadHeader <= 0 || d.Read <= 0 || d.Write <= 0 || d.Idle <= 0 {
		t.Errorf("DefaultHTTPTimeouts = %+v, want every timeout set", d)
	}
}
