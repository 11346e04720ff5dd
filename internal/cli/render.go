package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/syncd-dev/syncd/internal/policy"
	"github.com/syncd-dev/syncd/internal/status"
)

func newRenderCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	cmd := &cobra.Command{
		Use:   "render --site S [--repo-dir DIR]",
		Short: "Print the rendered YAML of one site, offline",
		Long: `Render every product that targets the site, as syncd would apply it, and print
the objects as YAML in a stable order (products by dependency, objects by kind,
namespace and name). A product that fails to render is reported on stderr and
the others are still printed; the exit code is then 2.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if err := f.requireSite(); err != nil {
				return err
			}
			if f.repoDir == "" && f.repo == "" {
				f.repoDir = "."
			}
			plan, err := f.planSite(cmd.Context(), s)
			if err != nil {
				return err
			}
			failed := 0
			for _, pp := range plan.Products {
				var blocked *policy.BlockedError
				switch {
				case errors.As(pp.Err, &blocked):
					// Printed below with the other violations; the objects
					// are shown so the violations can be looked into.
					failed++
				case pp.Err != nil:
					failed++
					fmt.Fprintf(s.err, "product %s: %v\n", pp.Name, pp.Err)
					continue
				case pp.NotDeployed != "":
					fmt.Fprintf(s.err, "product %s: not deployed: %s\n", pp.Name, pp.NotDeployed)
					continue
				case pp.Held != "":
					fmt.Fprintf(s.err, "product %s %s: would be held back: %s\n", pp.Name, pp.Version, pp.Held)
				}
				if err := writeYAML(s, pp.Objects); err != nil {
					return err
				}
			}
			writeCompliance(s.err, status.NewCompliance(plan.Policy))
			if failed > 0 {
				return withCode(ExitError, fmt.Errorf("%d product(s) failed to render or are blocked by policy", failed))
			}
			return nil
		},
	}
	f.addGit(cmd.Flags())
	f.addSite(cmd.Flags())
	return cmd
}

// writeYAML prints objects as a multi-document YAML stream.
func writeYAML(s *streams, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(s.out, "---\n%s", data); err != nil {
			return err
		}
	}
	return nil
}
