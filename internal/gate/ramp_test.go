package gate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func sites(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("site-%03d", i)
	}
	return out
}

// hoursOf returns how many sites get their turn in each hour of the ramp.
func hoursOf(t *testing.T, all []string, percent int, since time.Time) []int {
	t.Helper()
	var perHour []int
	for _, s := range all {
		turn := Turn(s, "web", "2.0.0", all, percent, since)
		d := turn.Sub(since)
		if d < 0 || d%time.Hour != 0 {
			t.Fatalf("turn of %s = %s, not a whole hour after the change", s, d)
		}
		h := int(d / time.Hour)
		for len(perHour) <= h {
			perHour = append(perHour, 0)
		}
		perHour[h]++
	}
	return perHour
}

func TestTurnShares(t *testing.T) {
	since := time.Date(2026, 12, 2, 10, 17, 0, 0, time.UTC)
	tests := []struct {
		sites, percent int
		want           []int
	}{
		{100, 25, []int{25, 25, 25, 25}},
		{10, 25, []int{3, 3, 3, 1}}, // ceil(2.5) = 3 a hour
		{3, 10, []int{1, 1, 1}},     // at least one site an hour
		{7, 50, []int{4, 3}},
		{1, 1, []int{1}},
		{5, 100, []int{5}},
		{5, 0, []int{5}}, // no limit
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d sites at %d%%", tt.sites, tt.percent), func(t *testing.T) {
			if got := hoursOf(t, sites(tt.sites), tt.percent, since); !slices.Equal(got, tt.want) {
				t.Errorf("sites per hour = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTurnIsStable(t *testing.T) {
	since := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	all := sites(40)
	want := map[string]time.Time{}
	for _, s := range all {
		want[s] = Turn(s, "web", "2.0.0", all, 10, since)
	}
	shuffled := slices.Clone(all)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, s := range all {
		if got := Turn(s, "web", "2.0.0", shuffled, 10, since); !got.Equal(want[s]) {
			t.Fatalf("turn of %s depends on the order of the sites: %s vs %s", s, got, want[s])
		}
	}
	// A site is ranked even when the list misses it, as if it were listed.
	if got := Turn("site-007", "web", "2.0.0", slices.Delete(slices.Clone(all), 7, 8), 10, since); !got.Equal(want["site-007"]) {
		t.Errorf("turn of an unlisted site = %s, want %s", got, want["site-007"])
	}
	// Another version or product reshuffles the order.
	first := func(product, version string) string {
		for _, s := range all {
			if Turn(s, product, version, all, 10, since).Equal(since) {
				return s
			}
		}
		return ""
	}
	same := 0
	for v := range 10 {
		if first("web", fmt.Sprintf("2.0.%d", v)) == first("web", "2.0.0") {
			same++
		}
	}
	if same == 10 {
		t.Error("the same site is first for every version")
	}
}
