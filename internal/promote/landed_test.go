package promote

import (
	"testing"
	"time"
)

func TestLanded(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 12, 1, h, 0, 0, 0, time.UTC) }
	history := []Revision{ // newest first
		{at(5), []byte("spec: {dev: 1.2.0, staging: 1.1.0, prod: 1.0.0}")},
		{at(4), []byte("spec: {dev: 1.2.0, staging: 1.0.0, prod: 1.0.0}")},
		{at(3), []byte("spec: [not, a, map]")},
		{at(2), []byte("spec: {dev: 1.2.0, staging: 1.0.0, prod: 1.0.0}")},
		{at(1), []byte("spec: {dev: 1.1.0, prod: 1.0.0}")},
	}
	got := Landed(history)
	want := map[string]Landing{
		"dev":     {"1.2.0", at(4)}, // the unreadable revision ends the run
		"staging": {"1.1.0", at(5)},
		"prod":    {"1.0.0", at(4)},
	}
	if len(got) != len(want) {
		t.Fatalf("Landed = %v, want %v", got, want)
	}
	for ch, w := range want {
		if g := got[ch]; g.Version != w.Version || !g.At.Equal(w.At) {
			t.Errorf("%s landed %s at %v, want %s at %v", ch, g.Version, g.At, w.Version, w.At)
		}
	}
	if Landed(nil) != nil {
		t.Error("Landed(nil) != nil")
	}
}
