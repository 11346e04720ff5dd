package conflict

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/redact"
)

// Reported is one conflict as the API server reports it.
type Reported struct {
	// FieldPath is the API server's path, e.g. .spec.replicas.
	FieldPath string
	// Manager owns the live value.
	Manager string
	// Subresource is the subresource the manager wrote through ("scale"),
	// empty for the main resource.
	Subresource string
}

// Detect dry-runs a server-side apply of obj as manager without forcing and
// returns the conflicts the API server reports (none when the object is new
// or no other manager holds a different value).
func Detect(ctx context.Context, c client.Client, obj *unstructured.Unstructured, manager string) ([]Reported, error) {
	dry := obj.DeepCopy()
	err := c.Patch(ctx, dry, client.Apply, client.FieldOwner(manager), client.DryRunAll)
	if err == nil || apierrors.IsNotFound(err) {
		return nil, nil
	}
	var status apierrors.APIStatus
	if !apierrors.IsConflict(err) || !errors.As(err, &status) || status.Status().Details == nil {
		return nil, fmt.Errorf("dry-run apply of %s: %w", describe(obj), redact.Error(err, obj))
	}
	var out []Reported
	for _, cause := range status.Status().Details.Causes {
		if cause.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		m, sub := managerOf(cause.Message)
		out = append(out, Reported{FieldPath: cause.Field, Manager: m, Subresource: sub})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("dry-run apply of %s: %w", describe(obj), redact.Error(err, obj))
	}
	return out, nil
}

// managerOf reads the manager and subresource from a conflict cause's
// message: `conflict with "kubectl-edit" using v1`, or
// `conflict with "kubectl-scale" with subresource "scale" using apps/v1`.
func managerOf(msg string) (manager, subresource string) {
	manager, rest, ok := quoted(msg)
	if !ok {
		return msg, ""
	}
	const with = ` with subresource `
	if strings.HasPrefix(rest, with) {
		if sub, _, ok := quoted(rest[len(with):]); ok {
			subresource = sub
		}
	}
	return manager, subresource
}

// quoted unquotes the first Go-quoted string of s and returns what follows it.
func quoted(s string) (string, string, bool) {
	i := strings.IndexByte(s, '"')
	if i < 0 {
		return "", "", false
	}
	q, err := strconv.QuotedPrefix(s[i:])
	if err != nil {
		return "", "", false
	}
	v, err := strconv.Unquote(q)
	if err != nil {
		return "", "", false
	}
	return v, s[i+len(q):], true
}

func describe(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + "/" + o.GetName()
	}
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}
