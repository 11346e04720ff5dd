package fleet

// Site is sites/<site>/site.yaml: one Kubernetes cluster of the fleet.
type Site struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	// Spec is the site's configuration.
	Spec SiteSpec `json:"spec"`

	// Components maps a product name to the directory of the site's kustomize
	// Component for it (sites/<site>/products/<product>). Set by Load.
	Components map[string]string `json:"-"`
}

// SiteSpec is the configuration of a site.
type SiteSpec struct {
	// Channel is the channel the site subscribes to.
	Channel string `json:"channel"`
	// ConflictStrategy overrides the fleet's default for this site.
	ConflictStrategy ConflictStrategy `json:"conflictStrategy,omitempty"`
	// ConflictRules choose a strategy for specific fields; the most specific
	// matching rule wins over every other setting.
	ConflictRules []ConflictRule `json:"conflictRules,omitempty"`
	// MaintenanceWindows, when set, restrict version changes to the windows.
	MaintenanceWindows []Window `json:"maintenanceWindows,omitempty"`
	// Freeze stops applying anything new; drift correction still runs.
	Freeze bool `json:"freeze,omitempty"`
	// Products holds per-product overrides, by product name.
	Products map[string]ProductOverride `json:"products,omitempty"`
}

// ConflictRule picks a conflict strategy for the fields it matches. Every
// matcher is optional; an empty matcher matches anything.
type ConflictRule struct {
	// Group is the API group of the object; empty matches any group.
	Group string `json:"group,omitempty"`
	// Kind is the object kind, such as Deployment.
	Kind string `json:"kind,omitempty"`
	// Namespace is the object namespace.
	Namespace string `json:"namespace,omitempty"`
	// Name is the object name.
	Name string `json:"name,omitempty"`
	// Path is a JSON pointer (RFC 6901) to the field, such as /spec/replicas;
	// it also matches every field below it.
	Path string `json:"path,omitempty"`
	// Manager is the field manager that owns the live value.
	Manager string `json:"manager,omitempty"`
	// Strategy is what to do with a matching conflict.
	Strategy ConflictStrategy `json:"strategy"`
}

// ProductOverride changes how one product is deployed at a site.
type ProductOverride struct {
	// Channel replaces the site's channel for this product.
	Channel string `json:"channel,omitempty"`
	// MaxVersion caps the version: when the channel points higher, the newest
	// non-recalled release at or below MaxVersion is deployed.
	MaxVersion string `json:"maxVersion,omitempty"`
}
