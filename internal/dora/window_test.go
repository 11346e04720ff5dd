package dora

import (
	"strings"
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"30d", 30 * Day, ""},
		{"2w", 2 * Week, ""},
		{"1w3d12h", Week + 3*Day + 12*time.Hour, ""},
		{"1.5d", 36 * time.Hour, ""},
		{"36h", 36 * time.Hour, ""},
		{"90m30s", 90*time.Minute + 30*time.Second, ""},
		{"", 0, "empty"},
		{"30", 0, "missing unit"},
		{"d", 0, "want a number"},
		{"-3d", 0, "want a number"},
		{"+3d", 0, "want a number"},
		{"0d", 0, "positive"},
		{"3y", 0, "unknown unit"},
		{"3 d", 0, "unknown unit"},
		{"99999999999w", 0, "invalid duration"},
		{"1s0", 0, "missing unit"},
		{"0", 0, "missing unit"},
		{"1000000w", 0, "too long"},
		{"2562047h2562047h", 0, "too long"},
	}
	for _, tc := range cases {
		got, err := ParseWindow(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseWindow(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParseWindow checks that any window accepted is positive, and is what
// time.ParseDuration reads when it uses no unit of its own.
func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"30d", "2w", "1w3d12h", "1.5d", "36h", "90m30s", "", "-3d", "3y", ".5d", "1.d", "µs1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseWindow(s)
		if err != nil {
			return
		}
		if got <= 0 {
			t.Fatalf("ParseWindow(%q) = %v: not positive", s, got)
		}
		if !strings.ContainsAny(s, "dw") {
			if std, err := time.ParseDuration(s); err != nil || std != got {
				t.Fatalf("ParseWindow(%q) = %v; time.ParseDuration: %v, %v", s, got, std, err)
			}
		}
	})
}

func TestFormatDuration(t *testing.T) {
	cases := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Hour, "0s"},
		{999 * time.Millisecond, "0s"},
		{45 * time.Second, "45s"},
		{2*time.Hour + 5*time.Minute + 7*time.Second, "2h5m"},
		{3*Day + 4*time.Hour + 59*time.Minute, "3d4h"},
		{3*Day + 5*time.Minute, "3d"},
		{40 * Day, "40d"},
	}
	for _, tc := range cases {
		if got := FormatDuration(tc.in); got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
