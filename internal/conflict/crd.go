package conflict

import (
	_ "embed"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

//go:embed crd/conflicts.syncd.dev.yaml
var crdYAML []byte

// CRD returns the conflicts.syncd.dev CustomResourceDefinition, which syncd
// installs or updates at start and the Helm chart ships.
func CRD() (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(crdYAML, &u.Object); err != nil {
		return nil, fmt.Errorf("decoding the Conflict CRD: %w", err)
	}
	return u, nil
}
