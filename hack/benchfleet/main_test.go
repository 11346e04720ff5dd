package main

import (
	"slices"
	"testing"
	"time"
)

func TestParseSizes(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "10,50,100,200", want: []int{10, 50, 100, 200}},
		{in: " 3 , 7 ,", want: []int{3, 7}},
		{in: "", wantErr: true},
		{in: "10,x", wantErr: true},
		{in: "0", wantErr: true},
	} {
		got, err := parseSizes(tc.in)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("parseSizes(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestProcCPU(t *testing.T) {
	// pid (comm with ") " inside) state ppid ... utime=14 stime=15 cutime=16 cstime=17
	stat := "42 (ss) d) S 1 42 42 0 -1 4194560 100 200 0 0 150 50 700 100 20 0 1 0 5 10 2"
	got, err := procCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 10 * time.Second; got != want {
		t.Errorf("procCPU = %s, want %s", got, want)
	}
	if _, err := procCPU("garbage"); err == nil {
		t.Error("procCPU(garbage): want an error")
	}
}

func TestMedianMaxAndRSS(t *testing.T) {
	for _, tc := range []struct {
		in           []int64
		median, maxV int64
	}{
		{in: []int64{5}, median: 5, maxV: 5},
		{in: []int64{9, 1, 5}, median: 5, maxV: 9},
		{in: []int64{4, 1, 2, 8}, median: 3, maxV: 8},
	} {
		m, x, err := medianMax(tc.in)
		if err != nil || m != tc.median || x != tc.maxV {
			t.Errorf("medianMax(%v) = %d, %d, %v; want %d, %d", tc.in, m, x, err, tc.median, tc.maxV)
		}
	}
	if _, _, err := medianMax(nil); err == nil {
		t.Error("medianMax(nil): want an error")
	}
	status := "Name:\tsyncd\nVmRSS:\t  102400 kB\nRssAnon:\t   20480 kB\nThreads: 9\n"
	for field, want := range map[string]int64{"VmRSS": 100 << 20, "RssAnon": 20 << 20} {
		if got, err := statusKB(status, field); err != nil || got != want {
			t.Errorf("statusKB(%s) = %d, %v; want %d", field, got, err, want)
		}
	}
	if _, err := statusKB(status, "VmSwap"); err == nil {
		t.Error("statusKB(VmSwap): want an error")
	}
}

func TestChangedRefs(t *testing.T) {
	before := map[string]string{"a": "1", "b": "2"}
	after := map[string]string{"a": "1", "b": "3", "c": "4"}
	if got := changedRefs(before, after); got != 2 {
		t.Errorf("changedRefs = %d, want 2", got)
	}
}
