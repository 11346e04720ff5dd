package daemon

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/syncd-dev/syncd/internal/tracing"
)

// maxWebhookBody bounds a webhook request body; a longer one is answered 413.
const maxWebhookBody = 1 << 20

// HTTPTimeouts bound how long one client may hold the HTTP server.
type HTTPTimeouts struct {
	// ReadHeader and Read bound reading a request's headers and the whole
	// request; Write bounds writing the response; Idle bounds a kept-alive
	// connection between requests.
	ReadHeader, Read, Write, Idle time.Duration
}

// DefaultHTTPTimeouts are the timeouts of `syncd run`'s HTTP server.
var DefaultHTTPTimeouts = HTTPTimeouts{ReadHeader: 5 * time.Second, Read: 15 * time.Second, Write: 30 * time.Second, Idle: 60 * time.Second}

// NewHTTPServer returns a server for h with timeouts t, so that a slow or
// stalled client (a slowloris) cannot hold connections open forever.
func NewHTTPServer(h http.Handler, t HTTPTimeouts) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
	}
}

// Handler serves /metrics, /healthz, /readyz and, when webhookSecret is set,
// POST /hooks/git (GitHub-style X-Hub-Signature-256 HMAC of the body).
func (d *Daemon) Handler(webhookSecret string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", d.cfg.Metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", d.readyz)
	if webhookSecret != "" {
		mux.HandleFunc("POST /hooks/git", d.webhook([]byte(webhookSecret)))
	}
	return mux
}

// readyz is ready once the first full reconcile ended, successfully or with a
// reported failure; the body says which (degraded: the last error).
func (d *Daemon) readyz(w http.ResponseWriter, _ *http.Request) {
	if d.standby.Load() {
		fmt.Fprintln(w, "standby: another replica leads")
		return
	}
	st := d.state.Load()
	if st == nil {
		http.Error(w, "not ready: the first reconcile has not finished", http.StatusServiceUnavailable)
		return
	}
	if st.err != nil {
		fmt.Fprintf(w, "degraded: %v\n", firstLine(st.err.Error()))
		return
	}
	fmt.Fprintf(w, "ok: revision %s\n", st.revision)
}

// webhook triggers a reconcile for a request signed with secret. The
// signature is checked before anything else is done or said: a request
// without a well-formed one is refused before its body is read, a body over
// maxWebhookBody is answered 413, and only a signed request learns that this
// replica stands by.
func (d *Daemon) webhook(secret []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("X-Hub-Signature-256")
		if _, err := parseSignature(header); err != nil {
			d.cfg.Log.Warn("webhook without a valid signature header refused", "remote", r.RemoteAddr)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			http.Error(w, fmt.Sprintf("body larger than %d bytes", maxWebhookBody), http.StatusRequestEntityTooLarge)
			return
		case err != nil:
			http.Error(w, "reading body", http.StatusBadRequest)
			return
		}
		if !validSignature(secret, body, header) {
			d.cfg.Log.Warn("webhook with an invalid signature refused", "remote", r.RemoteAddr)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		if d.standby.Load() {
			http.Error(w, "standby: another replica leads; retry", http.StatusServiceUnavailable)
			return
		}
		// The reconcile continues the caller's trace (W3C traceparent).
		ctx := tracing.Propagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracing.Tracer(d.cfg.Tracer).Start(ctx, "webhook", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(tracing.Site.String(d.cfg.Site)))
		tracing.Log(ctx, d.cfg.Log).Info("webhook: reconciling now", "remote", r.RemoteAddr)
		if sc := span.SpanContext(); sc.IsValid() {
			d.traceParent.Store(&sc)
		}
		tracing.End(span, nil)
		d.Trigger()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "reconcile triggered")
	}
}

// parseSignature returns the HMAC of a "sha256=<hex>" header.
func parseSignature(header string) ([]byte, error) {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return nil, errors.New("want sha256=<hex>")
	}
	sig, err := hex.DecodeString(hexSig)
	if err != nil || len(sig) != sha256.Size {
		return nil, errors.New("want sha256=<64 hex digits>")
	}
	return sig, nil
}

// validSignature checks a "sha256=<hex>" HMAC-SHA256 of body.
func validSignature(secret, body []byte, header string) bool {
	got, err := parseSignature(header)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
