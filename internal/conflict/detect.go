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
)

// Reported is one conflict as the API server reports it.
type Reported struct {
	// FieldPath is the API server's path, e.g. .spec.replicas.
	FieldPath string
	// Manager owns the live value.
	Manager string
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
		return nil, fmt.Errorf("dry-run apply of %s: %w", describe(obj), err)
	}
	var out []Reported
	for _, cause := range status.Status().Details.Causes {
		if cause.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		out = append(out, Reported{FieldPath: cause.Field, Manager: managerOf(cause.Message)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("dry-run apply of %s: %w", describe(obj), err)
	}
	return out, nil
}

// managerOf reads the manager from `conflict with "kubectl-edit" using v1`.
func managerOf(msg string) string {
	i := strings.IndexByte(msg, '"')
	if i < 0 {
		return msg
	}
	if s, err := strconv.QuotedPrefix(msg[i:]); err == nil {
		if m, err := strconv.Unquote(s); err == nil {
			return m
		}
	}
	return msg
}

func describe(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + "/" + o.GetName()
	}
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}
