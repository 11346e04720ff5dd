package fleet

import (
	"github.com/Masterminds/semver/v3"
	"github.com/google/cel-go/cel"
)

// Product is products/<product>/product.yaml plus what Load finds next to it.
type Product struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	// Spec is the product's configuration.
	Spec ProductSpec `json:"spec"`

	// Releases are the releases under products/<product>/releases/, oldest
	// first. Set by Load.
	Releases []*Release `json:"-"`
	// Channels is channels/<product>.yaml, or nil when the file does not
	// exist (the product is then deployed nowhere). Set by Load.
	Channels *Channels `json:"-"`

	targets     cel.Program
	targetsLine int
}

// ProductSpec is the configuration of a product.
type ProductSpec struct {
	// Targets is a CEL expression over `site` that selects the sites the
	// product is deployed to; empty selects none. See Product.TargetsSite.
	Targets string `json:"targets,omitempty"`
	// Namespace is the default namespace of the product's namespaced objects.
	Namespace string `json:"namespace,omitempty"`
	// Dependencies are products that must be applied, at a minimum version,
	// before this one.
	Dependencies []Dependency `json:"dependencies,omitempty"`
	// Signing, when set, requires every image of a release to be signed.
	Signing *Signing `json:"signing,omitempty"`
	// ConflictStrategy overrides the site's and the fleet's strategy.
	ConflictStrategy ConflictStrategy `json:"conflictStrategy,omitempty"`
	// HealthChecks are custom health rules for kinds kstatus does not know.
	HealthChecks []HealthCheck `json:"healthChecks,omitempty"`
	// ForceRecreate lets syncd delete and recreate an object when a change
	// touches an immutable field (such as a Deployment's selector). Off by
	// default: such a change is reported as an error instead.
	ForceRecreate bool `json:"forceRecreate,omitempty"`
}

// Dependency is a product that must be applied before the depending one.
type Dependency struct {
	// Product is the name of the product depended on.
	Product string `json:"product"`
	// MinVersion, when set, is the lowest version of Product that satisfies
	// the dependency.
	MinVersion string `json:"minVersion,omitempty"`
}

// Signing is a product's image signature policy.
type Signing struct {
	// Keys name files keys/<name>.pub; every image must be cosign-signed by
	// one of them.
	Keys []string `json:"keys"`
}

// Release is one release of a product: the kustomize directory
// products/<product>/releases/<version>/ and its optional release.yaml.
// Without release.yaml, TypeMeta and ObjectMeta are empty and the release
// is not recalled.
type Release struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	// Spec is the release's state.
	Spec ReleaseSpec `json:"spec"`

	// Version is the version named by the directory. Set by Load.
	Version *semver.Version `json:"-"`
	// Dir is the release directory, relative to the repo root. Set by Load.
	Dir string `json:"-"`
}

// ReleaseSpec is the state of a release.
type ReleaseSpec struct {
	// Recalled releases are never deployed.
	Recalled bool `json:"recalled,omitempty"`
	// Reason says why the release was recalled.
	Reason string `json:"reason,omitempty"`
}

// Channels is channels/<product>.yaml: the version of one product on each
// channel. It is the only file that promotion edits.
type Channels struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	// Spec maps a channel name to a version.
	Spec map[string]string `json:"spec"`
}
