package fleet

// APIVersion is the apiVersion of every fleet file.
const APIVersion = "syncd.dev/v1alpha1"

// Kinds of fleet files.
const (
	// KindFleet is the kind of fleet.yaml.
	KindFleet = "Fleet"
	// KindSite is the kind of sites/<site>/site.yaml.
	KindSite = "Site"
	// KindProduct is the kind of products/<product>/product.yaml.
	KindProduct = "Product"
	// KindChannels is the kind of channels/<product>.yaml.
	KindChannels = "Channels"
	// KindRelease is the kind of products/<product>/releases/<version>/release.yaml.
	KindRelease = "Release"
)

// TypeMeta identifies the schema of a fleet file.
type TypeMeta struct {
	// APIVersion must be APIVersion.
	APIVersion string `json:"apiVersion"`
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
}

// ObjectMeta names a fleet object and carries its labels.
type ObjectMeta struct {
	// Name must match the file or directory the object is read from.
	Name string `json:"name"`
	// Labels are Kubernetes-style labels. Site labels are what product
	// targets and canary filters select on.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations are free-form notes; syncd does not interpret them.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ConflictStrategy says what syncd does when another field manager owns a
// field that Git sets (SPEC §3).
type ConflictStrategy string

// Conflict strategies.
const (
	// GitWins forces the Git value and takes the field back.
	GitWins ConflictStrategy = "git_wins"
	// ServerWins leaves the live value and stops applying the field.
	ServerWins ConflictStrategy = "server_wins"
	// Manual leaves the live value and records a Conflict for an admin.
	Manual ConflictStrategy = "manual"
)

// DefaultConflictStrategy applies when neither the fleet, the site, the
// product nor a conflict rule chooses one.
const DefaultConflictStrategy = GitWins
