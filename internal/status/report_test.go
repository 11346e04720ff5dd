package status

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/health"
)

// sampleStatus is a status with every field set.
func sampleStatus(updated time.Time) *SiteStatus {
	return &SiteStatus{
		Site: "eu-1", Revision: "0123456789abcdef0123456789abcdef01234567", UpdatedAt: updated, LastError: "db: boom",
		Products: []ProductStatus{
			{Name: "db", Version: "14.2", VersionSince: t0, Health: health.Error, Since: t1, Objects: 4, Drift: 1, Conflicts: 2, Yielded: 3, Note: "boom",
				Transitions: []Transition{{From: health.Healthy, To: health.Error, At: t1}},
				Intervals:   []Interval{{Health: health.Healthy, From: t0}, {Health: health.Error, From: t1}},
				Earlier:     &Tally{Until: t0, HealthySeconds: 60, ErrorSeconds: 30}},
			{Name: "web", Version: "1.0.0", VersionSince: t0, Health: health.Healthy, Since: t0, Objects: 3,
				Intervals: []Interval{{Health: health.Healthy, From: t0}}},
		},
	}
}

func TestReportMarshal(t *testing.T) {
	got, err := NewReport(sampleStatus(t1)).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: syncd.dev/v1alpha1
kind: StatusReport
formatVersion: 2
site: eu-1
revision: 0123456789abcdef0123456789abcdef01234567
refreshedAt: 2026-03-01T12:15:00Z
products:
  - name: db
    version: "14.2"
    versionSince: 2026-03-01T12:00:00Z
    health: ERROR
    since: 2026-03-01T12:15:00Z
    transitions:
      - from: HEALTHY
        to: ERROR
        at: 2026-03-01T12:15:00Z
    intervals:
      - health: HEALTHY
        from: 2026-03-01T12:00:00Z
      - health: ERROR
        from: 2026-03-01T12:15:00Z
    earlier:
      until: 2026-03-01T12:00:00Z
      healthySeconds: 60
      errorSeconds: 30
    drift: 1
    conflicts: 2
    note: boom
  - name: web
    version: 1.0.0
    versionSince: 2026-03-01T12:00:00Z
    health: HEALTHY
    since: 2026-03-01T12:00:00Z
    intervals:
      - health: HEALTHY
        from: 2026-03-01T12:00:00Z
    drift: 0
    conflicts: 0
`
	if string(got) != want {
		t.Fatalf("report:\n%s\nwant:\n%s", got, want)
	}
}

func TestReportIsStableWhenOnlyTheSyncTimeChanges(t *testing.T) {
	a, err := withoutRefresh(NewReport(sampleStatus(t1)))
	if err != nil {
		t.Fatal(err)
	}
	later := sampleStatus(t1.Add(time.Hour))
	later.LastError = "db: boom again"
	later.Products[1].Objects = 4 // objects are not part of the report
	b, err := withoutRefresh(NewReport(later))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("report changed with the sync time:\n%s\n---\n%s", a, b)
	}
	// Sub-second and zone differences do not show either.
	local := sampleStatus(t1)
	local.Products[1].Since = t0.Add(400 * time.Millisecond).In(time.FixedZone("CET", 3600))
	c, err := withoutRefresh(NewReport(local))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, c) {
		t.Fatalf("report depends on precision or zone:\n%s\n---\n%s", a, c)
	}
	changed := sampleStatus(t1)
	changed.Products[1].Health = health.Progressing
	d, err := withoutRefresh(NewReport(changed))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, d) {
		t.Fatal("report did not change with a product's health")
	}
}

// withoutRefresh is r encoded without its liveness time, as Publish compares
// reports.
func withoutRefresh(r *Report) ([]byte, error) {
	r.RefreshedAt = time.Time{}
	return r.Marshal()
}

func TestParseReport(t *testing.T) {
	r := NewReport(sampleStatus(t1))
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseReport(data)
	if err != nil {
		t.Fatal(err)
	}
	if r.FormatVersion == 0 {
		r.FormatVersion = 1 // a report without a format version reads as version 1
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip:\n%+v\nwant\n%+v", got, r)
	}
	for _, bad := range []struct{ name, data, want string }{
		{"not yaml", "site: [", "decoding status report"},
		{"wrong kind", "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nsite: eu-1\n", `kind "Channels"`},
		{"no site", "apiVersion: syncd.dev/v1alpha1\nkind: StatusReport\n", "no site"},
	} {
		if _, err := ParseReport([]byte(bad.data)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: ParseReport = %v, want an error containing %q", bad.name, err, bad.want)
		}
	}
}

// v1Report is a report as syncd wrote it before format version 2.
const v1Report = `apiVersion: syncd.dev/v1alpha1
kind: StatusReport
site: eu-1
revision: abc
products:
  - name: web
    version: 1.0.0
    versionSince: 2026-03-01T12:00:00Z
    health: HEALTHY
    since: 2026-03-01T12:10:00Z
    transitions:
      - from: PROGRESSING
        to: HEALTHY
        at: 2026-03-01T12:10:00Z
    drift: 0
    conflicts: 0
`

func TestParseReportVersions(t *testing.T) {
	r, err := ParseReport([]byte(v1Report))
	if err != nil {
		t.Fatal(err)
	}
	if r.FormatVersion != 1 || !r.RefreshedAt.IsZero() || r.Stale(t1.Add(24*time.Hour), 0) {
		t.Fatalf("v1 report: format %d refreshedAt %v stale %v", r.FormatVersion, r.RefreshedAt, r.Stale(t1.Add(24*time.Hour), 0))
	}
	// The version-1 report accounts its time from its transitions.
	if got := r.Products[0].TimeOnVersion(t1, t1); got.Healthy != 5*time.Minute || got.Total != t1.Sub(t0) {
		t.Fatalf("v1 TimeOnVersion = %+v", got)
	}
	newer := strings.Replace(v1Report, "kind: StatusReport\n", "kind: StatusReport\nformatVersion: 3\n", 1)
	if _, err := ParseReport([]byte(newer)); err == nil || !strings.Contains(err.Error(), "format version 3 is newer") {
		t.Fatalf("newer format: %v", err)
	}
}

// FuzzParseReport feeds arbitrary bytes to the report decoder: it never
// panics, and what it accepts encodes and decodes to the same report.
func FuzzParseReport(f *testing.F) {
	f.Add([]byte(v1Report))
	if data, err := NewReport(sampleStatus(t1)).Marshal(); err == nil {
		f.Add(data)
	}
	f.Add([]byte("apiVersion: syncd.dev/v1alpha1\nkind: StatusReport\nsite: x\nformatVersion: -1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReport(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if r.Site == "" || r.FormatVersion < 1 || r.FormatVersion > ReportFormatVersion {
			t.Fatalf("accepted site %q format %d", r.Site, r.FormatVersion)
		}
		for i := range r.Products {
			r.Products[i].TimeOnVersion(r.RefreshedAt, t1) // must not panic
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatalf("re-encoding an accepted report: %v", err)
		}
		if _, err := ParseReport(again); err != nil {
			t.Fatalf("re-decoding an accepted report: %v\n%s", err, again)
		}
	})
}
