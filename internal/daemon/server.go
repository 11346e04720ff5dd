package daemon

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxWebhookBody bounds a webhook request body.
const maxWebhookBody = 1 << 20

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

// webhook triggers a reconcile for a request signed with secret.
func (d *Daemon) webhook(secret []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxWebhookBody))
		if err != nil {
			http.Error(w, "reading body", http.StatusBadRequest)
			return
		}
		if d.standby.Load() {
			http.Error(w, "standby: another replica leads; retry", http.StatusServiceUnavailable)
			return
		}
		if !validSignature(secret, body, r.Header.Get("X-Hub-Signature-256")) {
			d.cfg.Log.Warn("webhook with an invalid signature refused", "remote", r.RemoteAddr)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		d.cfg.Log.Info("webhook: reconciling now", "remote", r.RemoteAddr)
		d.Trigger()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "reconcile triggered")
	}
}

// validSignature checks a "sha256=<hex>" HMAC-SHA256 of body.
func validSignature(secret, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
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
