package fleet

import (
	"slices"
	"testing"
)

// depRepo returns a Repo whose products depend on each other as deps says.
func depRepo(deps map[string][]string) *Repo {
	repo := newRepo()
	for name, on := range deps {
		p := &Product{ObjectMeta: ObjectMeta{Name: name}}
		for _, d := range on {
			p.Spec.Dependencies = append(p.Spec.Dependencies, Dependency{Product: d})
		}
		repo.Products[name] = p
	}
	return repo
}

func TestDependencyOrder(t *testing.T) {
	repo := depRepo(map[string][]string{
		"auth":      nil,
		"db":        nil,
		"ingest":    {"auth", "db"},
		"dashboard": {"ingest"},
		"telemetry": nil,
		"billing":   {"auth"},
	})
	tests := []struct {
		in, want []string
	}{
		{
			in:   []string{"dashboard", "telemetry", "ingest", "db", "auth", "billing"},
			want: []string{"auth", "billing", "db", "ingest", "dashboard", "telemetry"},
		},
		{
			// Dependencies outside the list are ignored.
			in:   []string{"dashboard", "auth"},
			want: []string{"auth", "dashboard"},
		},
		{in: nil, want: []string{}},
	}
	for _, tt := range tests {
		got, err := repo.DependencyOrder(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("DependencyOrder(%v) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestDependencyOrderErrors(t *testing.T) {
	repo := depRepo(map[string][]string{
		"a":    {"b"},
		"b":    {"c"},
		"c":    {"a"},
		"d":    {"a"},
		"solo": nil,
	})
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"d", "c", "b", "a", "solo"}, "dependency cycle: a -> b -> c -> a"},
		{[]string{"solo", "ghost"}, `no product "ghost" without problems in the fleet repo`},
	}
	for _, tt := range tests {
		_, err := repo.DependencyOrder(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("DependencyOrder(%v) error = %v, want %s", tt.in, err, tt.want)
		}
	}
	// Without c, a and b form no cycle.
	got, err := repo.DependencyOrder([]string{"a", "b", "d"})
	if want := []string{"b", "a", "d"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("DependencyOrder(a, b, d) = %v, %v; want %v", got, err, want)
	}
}
