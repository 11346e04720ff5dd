package conflict

import (
	"testing"

	"github.com/syncd-dev/syncd/internal/fleet"
)

func TestRulesStrategy(t *testing.T) {
	rules := Rules{
		Default: fleet.Manual,
		Site: []fleet.ConflictRule{
			{Kind: "Deployment", Path: "/spec/replicas", Strategy: fleet.ServerWins},
			{Kind: "Deployment", Path: "/spec/replicas", Manager: "kubectl-edit", Strategy: fleet.GitWins},
			{Path: "/spec/template", Strategy: fleet.GitWins},
			{Path: "/spec/template/spec/containers/0/image", Strategy: fleet.ServerWins},
			{Group: "apps", Kind: "StatefulSet", Strategy: fleet.ServerWins},
			{Kind: "ConfigMap", Name: "flags", Namespace: "web", Strategy: fleet.GitWins},
		},
	}
	tests := []struct {
		name string
		t    Target
		want fleet.ConflictStrategy
	}{
		{"replicas by an HPA", Target{Group: "apps", Kind: "Deployment", Pointer: "/spec/replicas", Manager: "hpa"}, fleet.ServerWins},
		{"manager makes it more specific", Target{Group: "apps", Kind: "Deployment", Pointer: "/spec/replicas", Manager: "kubectl-edit"}, fleet.GitWins},
		{"path prefix", Target{Group: "apps", Kind: "Deployment", Pointer: "/spec/template/metadata/labels/a"}, fleet.GitWins},
		{"longer path wins", Target{Group: "apps", Kind: "Deployment", Pointer: "/spec/template/spec/containers/0/image"}, fleet.ServerWins},
		{"prefix is per segment", Target{Group: "apps", Kind: "Deployment", Pointer: "/spec/replicasX"}, fleet.Manual},
		{"group and kind", Target{Group: "apps", Kind: "StatefulSet", Pointer: "/spec/x"}, fleet.ServerWins},
		{"name and namespace", Target{Kind: "ConfigMap", Namespace: "web", Name: "flags", Pointer: "/data/a"}, fleet.GitWins},
		{"other namespace falls back", Target{Kind: "ConfigMap", Namespace: "db", Name: "flags", Pointer: "/data/a"}, fleet.Manual},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := rules.Strategy(tt.t); got != tt.want {
				t.Fatalf("Strategy = %s, want %s", got, tt.want)
			}
		})
	}
	if got, rule := (Rules{}).Strategy(Target{Kind: "X"}); got != fleet.GitWins || rule != nil {
		t.Fatalf("no rules, no default: %s %v, want git_wins", got, rule)
	}
}
