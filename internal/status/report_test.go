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
				Transitions: []Transition{{From: health.Healthy, To: health.Error, At: t1}}},
			{Name: "web", Version: "1.0.0", VersionSince: t0, Health: health.Healthy, Since: t0, Objects: 3},
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
site: eu-1
revision: 0123456789abcdef0123456789abcdef01234567
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
    drift: 1
    conflicts: 2
    note: boom
  - name: web
    version: 1.0.0
    versionSince: 2026-03-01T12:00:00Z
    health: HEALTHY
    since: 2026-03-01T12:00:00Z
    drift: 0
    conflicts: 0
`
	if string(got) != want {
		t.Fatalf("report:\n%s\nwant:\n%s", got, want)
	}
}

func TestReportIsStableWhenOnlyTheSyncTimeChanges(t *testing.T) {
	a, err := NewReport(sampleStatus(t1)).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	later := sampleStatus(t1.Add(time.Hour))
	later.LastError = "db: boom again"
	later.Products[1].Objects = 4 // objects are not part of the report
	b, err := NewReport(later).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("report changed with the sync time:\n%s\n---\n%s", a, b)
	}
	// Sub-second and zone differences do not show either.
	local := sampleStatus(t1)
	local.Products[1].Since = t0.Add(400 * time.Millisecond).In(time.FixedZone("CET", 3600))
	c, err := NewReport(local).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, c) {
		t.Fatalf("report depends on precision or zone:\n%s\n---\n%s", a, c)
	}
	changed := sampleStatus(t1)
	changed.Products[1].Health = health.Progressing
	d, err := NewReport(changed).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, d) {
		t.Fatal("report did not change with a product's health")
	}
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
