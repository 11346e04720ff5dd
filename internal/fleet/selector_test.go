package fleet

import "testing"

func TestSiteSelectorMatches(t *testing.T) {
	site := func(name string, labels map[string]string) *Site {
		return &Site{ObjectMeta: ObjectMeta{Name: name, Labels: labels}}
	}
	canary := site("c1", map[string]string{"canary": "true", "type": "cloud"})
	edge := site("e1", map[string]string{"type": "edge", "frozen": "no"})
	tests := []struct {
		name string
		sel  SiteSelector
		site *Site
		want bool
	}{
		{"empty selects all", SiteSelector{}, edge, true},
		{"with labels", SiteSelector{WithLabels: map[string]string{"canary": "true"}}, canary, true},
		{"with labels missing", SiteSelector{WithLabels: map[string]string{"canary": "true"}}, edge, false},
		{"without value", SiteSelector{WithoutLabels: map[string]string{"type": "edge"}}, edge, false},
		{"without other value", SiteSelector{WithoutLabels: map[string]string{"type": "edge"}}, canary, true},
		{"without key", SiteSelector{WithoutLabels: map[string]string{"frozen": ""}}, edge, false},
		{"include ignores labels", SiteSelector{WithLabels: map[string]string{"canary": "true"}, Include: []string{"e1"}}, edge, true},
		{"exclude wins", SiteSelector{Include: []string{"c1"}, Exclude: []string{"c1"}}, canary, false},
	}
	for _, tt := range tests {
		if got := tt.sel.Matches(tt.site); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}
