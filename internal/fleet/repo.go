package fleet

import (
	"maps"
	"slices"

	"github.com/Masterminds/semver/v3"
)

// Repo is a loaded fleet repo. See Load for how problems are reflected in it.
type Repo struct {
	// Fleet is fleet.yaml, or nil when it has problems.
	Fleet *Fleet
	// Sites are the sites without problems, by name.
	Sites map[string]*Site
	// Products are the products without problems, by name.
	Products map[string]*Product
	// Keys are the valid public keys under keys/, by name (the file name
	// without .pub), as PEM.
	Keys map[string][]byte
	// SiteErrors are the problems of each site that has some.
	SiteErrors map[string]error
	// ProductErrors are the problems of each product that has some.
	ProductErrors map[string]error

	// builtinHealth are syncd's built-in health rules, compiled; see
	// HealthChecks.
	builtinHealth []HealthCheck
}

func newRepo() *Repo {
	return &Repo{
		Sites:         map[string]*Site{},
		Products:      map[string]*Product{},
		Keys:          map[string][]byte{},
		SiteErrors:    map[string]error{},
		ProductErrors: map[string]error{},
	}
}

// ConflictStrategy returns the strategy for product at site when no
// conflict rule matches: the product's, else the site's, else the fleet's,
// else DefaultConflictStrategy.
func (r *Repo) ConflictStrategy(site, product string) ConflictStrategy {
	var candidates []ConflictStrategy
	if p := r.Products[product]; p != nil {
		candidates = append(candidates, p.Spec.ConflictStrategy)
	}
	if s := r.Sites[site]; s != nil {
		candidates = append(candidates, s.Spec.ConflictStrategy)
	}
	if r.Fleet != nil {
		candidates = append(candidates, r.Fleet.Spec.ConflictStrategy)
	}
	for _, c := range candidates {
		if c != "" {
			return c
		}
	}
	return DefaultConflictStrategy
}

// Release returns the release of p with version v, or nil when v is not a
// version or p has no such release.
func (p *Product) Release(v string) *Release {
	sv, err := parseVersion(v)
	if err != nil {
		return nil
	}
	return p.release(sv)
}

func (p *Product) release(v *semver.Version) *Release {
	for _, rel := range p.Releases {
		if rel.Version.Equal(v) {
			return rel
		}
	}
	return nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
