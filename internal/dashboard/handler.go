package dashboard

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"time"
)

//go:embed templates/*.html
var templateFiles embed.FS

// pages is parsed once per Handler: no package-level state.
func parsePages() *template.Template {
	return template.Must(template.New("").ParseFS(templateFiles, "templates/*.html"))
}

// Source is what the handlers serve: a Poller.
type Source interface {
	Snapshot() Snapshot
}

// Handler serves the dashboard from src: GET / (every site and product),
// /sites/{site}, /products/{product}, /api/fleet (the view as `syncd fleet
// status -o json` prints it), /healthz and /readyz. It has no handler for
// any other method: the dashboard is read-only. now is the clock (nil for
// time.Now).
func Handler(src Source, opts Options, now func() time.Time) http.Handler {
	if now == nil {
		now = time.Now
	}
	h := &handler{src: src, opts: opts, now: now, tmpl: parsePages()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.grid)
	mux.HandleFunc("GET /sites/{site}", h.site)
	mux.HandleFunc("GET /products/{product}", h.product)
	mux.HandleFunc("GET /api/fleet", h.apiFleet)
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	return secure(mux)
}

type handler struct {
	src  Source
	opts Options
	now  func() time.Time
	tmpl *template.Template
}

// secure sets the headers of every response: nothing is cached, no script,
// no frame, no referrer; styles are the page's own.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func (h *handler) grid(w http.ResponseWriter, r *http.Request) {
	h.render(w, GridPage(h.src.Snapshot(), h.opts, h.now()))
}

func (h *handler) site(w http.ResponseWriter, r *http.Request) {
	h.render(w, SitePageOf(h.src.Snapshot(), r.PathValue("site"), h.opts, h.now()))
}

func (h *handler) product(w http.ResponseWriter, r *http.Request) {
	h.render(w, ProductPageOf(h.src.Snapshot(), r.PathValue("product"), h.opts, h.now()))
}

// render writes p as HTML: 404 for what does not exist, 503 before the
// first good read.
func (h *handler) render(w http.ResponseWriter, p Page) {
	var b bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&b, "page", p); err != nil {
		http.Error(w, "rendering the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	switch {
	case p.NotFound != "":
		w.WriteHeader(http.StatusNotFound)
	case p.Banner.NoData:
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write(b.Bytes())
}

// apiFleet is the view as JSON, in the shape of `syncd fleet status -o
// json`; X-Syncd-Data-As-Of and X-Syncd-Revision say when and at which
// fleet repo commit it was read, X-Syncd-Last-Fetch-Failed when the last
// fetch failed. 503 with {"error": …} before the first good read.
func (h *handler) apiFleet(w http.ResponseWriter, _ *http.Request) {
	snap := h.src.Snapshot()
	w.Header().Set("Content-Type", "application/json")
	if snap.Inputs == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": noData(snap)})
		return
	}
	data, err := json.MarshalIndent(snap.Inputs.View(h.now()), "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("X-Syncd-Data-As-Of", stamp(snap.AsOf))
	w.Header().Set("X-Syncd-Revision", snap.Inputs.Revision)
	if snap.Err != nil {
		w.Header().Set("X-Syncd-Last-Fetch-Failed", stamp(snap.FailedAt))
	}
	_, _ = w.Write(append(data, '\n'))
}

// healthz answers 200 while the process serves, saying how old the data is.
func (h *handler) healthz(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprintln(w, "ok:", freshness(h.src.Snapshot()))
}

// readyz answers 503 until the first good read, then 200: a failed fetch
// afterwards keeps the last snapshot served.
func (h *handler) readyz(w http.ResponseWriter, _ *http.Request) {
	snap := h.src.Snapshot()
	if snap.Inputs == nil {
		http.Error(w, noData(snap), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready:", freshness(snap))
}

// freshness is "data as of T (fleet repo at R)[, last fetch failed: E]".
func freshness(snap Snapshot) string {
	if snap.Inputs == nil {
		return noData(snap)
	}
	s := fmt.Sprintf("data as of %s (fleet repo at %s)", stamp(snap.AsOf), shortSHA(snap.Inputs.Revision))
	if snap.Err != nil {
		s += fmt.Sprintf(", last fetch failed at %s: %v", stamp(snap.FailedAt), snap.Err)
	}
	return s
}

func noData(snap Snapshot) string {
	if snap.Err != nil {
		return fmt.Sprintf("no data yet: the fetch at %s failed: %v", stamp(snap.FailedAt), snap.Err)
	}
	return "no data yet: the first fetch is under way"
}
