package conflict

import (
	"os"
	"testing"
)

// The Helm chart ships the same CRD syncd installs at start.
func TestChartShipsTheSameCRD(t *testing.T) {
	chart, err := os.ReadFile("../../charts/syncd/crds/conflicts.syncd.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(chart) != string(crdYAML) {
		t.Fatal("charts/syncd/crds/conflicts.syncd.dev.yaml differs from internal/conflict/crd/conflicts.syncd.dev.yaml: copy one over the other")
	}
	crd, err := CRD()
	if err != nil || crd.GetName() != "conflicts.syncd.dev" {
		t.Fatalf("CRD() = %v, %v", crd, err)
	}
}
