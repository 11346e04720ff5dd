package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestUnsignedChanges(t *testing.T) {
	for _, tc := range []struct {
		name  string
		prev  []string
		now   []string
		newly []string
	}{
		{"first evaluation", nil, []string{"b", "a"}, []string{"a", "b"}},
		{"unchanged", []string{"a", "b"}, []string{"b", "a"}, nil},
		{"one more", []string{"a"}, []string{"a", "c"}, []string{"c"}},
		{"one signs now", []string{"a", "b"}, []string{"a"}, nil},
		{"none", []string{"a"}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev := map[string]bool{}
			for _, s := range tc.prev {
				prev[s] = true
			}
			newly, next := unsignedChanges(prev, tc.now)
			if !slices.Equal(newly, tc.newly) {
				t.Errorf("newly = %v, want %v", newly, tc.newly)
			}
			if len(next) != len(tc.now) {
				t.Errorf("next = %v, want the sites of %v", next, tc.now)
			}
		})
	}
}

// TestUnsignedWarnedOncePerChange: the promoter evaluates every interval; a
// site read unsigned is named when it becomes so, not at each evaluation,
// and again after it signed and stopped.
func TestUnsignedWarnedOncePerChange(t *testing.T) {
	var out strings.Builder
	w := &unsignedWarner{log: hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Warn})}
	for _, sites := range [][]string{{"edge-1"}, {"edge-1"}, {"edge-1"}, {"edge-1", "edge-2"}, {"edge-2"}, {"edge-1", "edge-2"}} {
		w.observe(sites)
	}
	count := func(site string) int { return strings.Count(out.String(), "site="+site+" ") }
	if got := count("edge-1"); got != 2 {
		t.Errorf("edge-1 named %d times, want 2 (unsigned, then again after a signed evaluation):\n%s", got, out.String())
	}
	if got := count("edge-2"); got != 1 {
		t.Errorf("edge-2 named %d times, want 1:\n%s", got, out.String())
	}
}
