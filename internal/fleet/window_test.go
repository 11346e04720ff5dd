package fleet

import (
	"testing"
	"time"
)

func TestWindowOpen(t *testing.T) {
	weekdays := Window{Schedule: "0 6 * * 1-5", Duration: Duration{16 * time.Hour}}
	nightlyNY := Window{Schedule: "CRON_TZ=America/New_York 0 22 * * *", Duration: Duration{8 * time.Hour}}
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		w    Window
		at   string
		want bool
	}{
		{weekdays, "2025-03-03T06:00:00Z", true},  // Monday, opening instant
		{weekdays, "2025-03-03T21:59:59Z", true},  // Monday, last second
		{weekdays, "2025-03-03T22:00:00Z", false}, // Monday, closed
		{weekdays, "2025-03-03T05:59:59Z", false}, // Monday, before opening
		{weekdays, "2025-03-08T12:00:00Z", false}, // Saturday
		{weekdays, "2025-03-03T08:00:00+02:00", true},
		{nightlyNY, "2025-03-04T03:30:00Z", true},  // 22:30 in New York
		{nightlyNY, "2025-03-04T12:00:00Z", false}, // 07:00 in New York
	}
	for _, tt := range tests {
		got, err := tt.w.Open(at(tt.at))
		if err != nil || got != tt.want {
			t.Errorf("%q.Open(%s) = %v, %v; want %v", tt.w.Schedule, tt.at, got, err, tt.want)
		}
	}
	if _, err := (Window{Schedule: "bogus"}).Open(time.Now()); err == nil {
		t.Error("Open with an invalid schedule succeeded")
	}
}

func TestWindowNextOpenAcrossDST(t *testing.T) {
	// 02:30 New York time does not exist on 2025-03-09 (clocks jump from 02:00
	// to 03:00): robfig/cron skips that day. Before the change the window
	// opens at 07:30Z (EST), after it at 06:30Z (EDT).
	ny := Window{Schedule: "CRON_TZ=America/New_York 30 2 * * *", Duration: Duration{time.Hour}}
	weekdays := Window{Schedule: "0 6 * * 1-5", Duration: Duration{16 * time.Hour}}
	tests := []struct {
		name    string
		windows []Window
		at      string
		want    string
	}{
		{"no windows: now", nil, "2025-03-08T12:00:00Z", "2025-03-08T12:00:00Z"},
		{"open: now", []Window{weekdays}, "2025-03-03T07:00:00Z", "2025-03-03T07:00:00Z"},
		{"saturday: monday", []Window{weekdays}, "2025-03-08T12:00:00Z", "2025-03-10T06:00:00Z"},
		{"before DST (EST)", []Window{ny}, "2025-03-07T12:00:00Z", "2025-03-08T07:30:00Z"},
		{"skipped on the day of the change", []Window{ny}, "2025-03-08T12:00:00Z", "2025-03-10T06:30:00Z"},
		{"after DST (EDT)", []Window{ny}, "2025-03-09T12:00:00Z", "2025-03-10T06:30:00Z"},
		{"earliest of two", []Window{weekdays, ny}, "2025-03-07T23:00:00Z", "2025-03-08T07:30:00Z"},
	}
	for _, tt := range tests {
		at, _ := time.Parse(time.RFC3339, tt.at)
		got, err := NextOpen(tt.windows, at)
		if err != nil || got.UTC().Format(time.RFC3339) != tt.want {
			t.Errorf("%s: NextOpen(%s) = %v, %v; want %s", tt.name, tt.at, got.UTC(), err, tt.want)
		}
	}
}
