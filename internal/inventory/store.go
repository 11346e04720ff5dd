package inventory

import (
	"context"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/wellknown"
)

// Labels on inventory ConfigMaps.
const (
	labelInventory = "syncd.dev/inventory"
	labelSite      = wellknown.LabelSite
	labelProduct   = wellknown.LabelProduct
)

// Store keeps one ConfigMap per product of a site in syncd's namespace.
type Store struct {
	client    client.Client
	namespace string
	site      string

	mu sync.Mutex
	// legacy holds the products whose inventory List last found under its
	// legacy name; nil until List ran (every Save then looks for one).
	legacy map[string]bool
}

// NewStore returns a Store for site's inventories in namespace.
func NewStore(c client.Client, namespace, site string) *Store {
	return &Store{client: c, namespace: namespace, site: site}
}

// name is the ConfigMap name of product's inventory. Site and product names
// are DNS labels, which hold no dot, so dots keep the names of two sites
// sharing a namespace apart (site "a-b" with product "c" and site "a" with
// product "b-c" once both wrote "syncd-inventory-a-b-c").
func (s *Store) name(product string) string {
	return "syncd-inventory." + s.site + "." + product
}

// legacyName is the name inventories had before name: read, and replaced
// on the next Save, when its labels say it is this site's.
func (s *Store) legacyName(product string) string {
	return fmt.Sprintf("syncd-inventory-%s-%s", s.site, product)
}

// List returns the site's inventories by product.
func (s *Store) List(ctx context.Context) (map[string]*Inventory, error) {
	var list corev1.ConfigMapList
	err := s.client.List(ctx, &list, client.InNamespace(s.namespace),
		client.MatchingLabels{labelInventory: "true", labelSite: s.site})
	if err != nil {
		return nil, fmt.Errorf("listing inventories of site %s: %w", s.site, err)
	}
	out := make(map[string]*Inventory, len(list.Items))
	legacy := map[string]bool{}
	for i := range list.Items {
		inv, err := decode(&list.Items[i])
		if err != nil {
			return nil, err
		}
		if list.Items[i].Name == s.legacyName(inv.Product) {
			legacy[inv.Product] = true
		}
		if _, dup := out[inv.Product]; dup && list.Items[i].Name != s.name(inv.Product) {
			continue // a legacy-named copy next to the current one
		}
		out[inv.Product] = inv
	}
	s.mu.Lock()
	s.legacy = legacy
	s.mu.Unlock()
	return out, nil
}

// mayHaveLegacy reports whether product's inventory may still exist under
// its legacy name: List found it there, or List has not run.
func (s *Store) mayHaveLegacy(product string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.legacy == nil || s.legacy[product]
}

// Save writes inv, creating its ConfigMap (and syncd's namespace) when needed.
func (s *Store) Save(ctx context.Context, inv *Inventory) error {
	lines := make([]string, len(inv.Entries))
	for i, e := range inv.Entries {
		lines[i] = e.String()
	}
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      s.name(inv.Product),
			Namespace: s.namespace,
			Labels:    map[string]string{labelInventory: "true", labelSite: s.site, labelProduct: inv.Product},
		},
		Data: map[string]string{
			"product":     inv.Product,
			"version":     inv.Version,
			"revision":    inv.Revision,
			"fingerprint": inv.Fingerprint,
			"objects":     strings.Join(lines, "\n"),
		},
	}
	err := s.client.Patch(ctx, cm, client.Apply, client.FieldOwner(wellknown.FieldManager), client.ForceOwnership)
	if apierrors.IsNotFound(err) {
		if err := s.ensureNamespace(ctx); err != nil {
			return err
		}
		err = s.client.Patch(ctx, cm, client.Apply, client.FieldOwner(wellknown.FieldManager), client.ForceOwnership)
	}
	if err != nil {
		return fmt.Errorf("saving inventory of %s at site %s: %w", inv.Product, s.site, err)
	}
	return s.deleteLegacy(ctx, inv.Product)
}

// deleteLegacy deletes product's inventory under its legacy name, if it is
// there and labelled as this site's and product's (the name may be another
// site's, the collision the current names avoid).
func (s *Store) deleteLegacy(ctx context.Context, product string) error {
	if !s.mayHaveLegacy(product) {
		return nil
	}
	var cm corev1.ConfigMap
	err := s.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: s.legacyName(product)}, &cm)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading legacy inventory of %s at site %s: %w", product, s.site, err)
	}
	if cm.Labels[labelSite] != s.site || cm.Labels[labelProduct] != product {
		return nil
	}
	err = s.client.Delete(ctx, &cm, client.Preconditions{UID: &cm.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting legacy inventory of %s at site %s: %w", product, s.site, err)
	}
	s.mu.Lock()
	if s.legacy != nil {
		delete(s.legacy, product)
	}
	s.mu.Unlock()
	return nil
}

// Delete removes a product's inventory.
func (s *Store) Delete(ctx context.Context, product string) error {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: s.name(product), Namespace: s.namespace}}
	if err := s.client.Delete(ctx, cm); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting inventory of %s at site %s: %w", product, s.site, err)
	}
	return s.deleteLegacy(ctx, product)
}

func (s *Store) ensureNamespace(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.namespace}}
	if err := s.client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", s.namespace, err)
	}
	return nil
}

func decode(cm *corev1.ConfigMap) (*Inventory, error) {
	inv := &Inventory{Product: cm.Data["product"], Version: cm.Data["version"], Revision: cm.Data["revision"], Fingerprint: cm.Data["fingerprint"]}
	for _, line := range strings.Split(cm.Data["objects"], "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		e, err := parseEntry(line)
		if err != nil {
			return nil, fmt.Errorf("ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
		}
		inv.Entries = append(inv.Entries, e)
	}
	if inv.Product == "" {
		inv.Product = cm.Labels[labelProduct]
	}
	return inv, nil
}
