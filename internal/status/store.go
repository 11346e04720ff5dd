package status

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/syncd-dev/syncd/internal/wellknown"
)

// Names of the status ConfigMap's parts.
const (
	// LabelSite names the site on the status ConfigMap.
	LabelSite = wellknown.LabelSite
	// LabelStatus is "true" on every status ConfigMap.
	LabelStatus = "syncd.dev/status"
	// DataKey holds the status as YAML.
	DataKey = "status.yaml"
	// FieldManager is the field manager the status is applied with.
	FieldManager = wellknown.FieldManager
)

// DefaultHeartbeat is how old the stored status may grow before Save writes
// it again although only UpdatedAt changed, so that `syncd status` shows
// that syncd is alive.
const DefaultHeartbeat = 5 * time.Minute

// ConfigMapName is the name of site's status ConfigMap.
func ConfigMapName(site string) string { return "syncd-status-" + site }

// Store keeps one site's status in a ConfigMap in syncd's namespace. It
// remembers the status it last loaded or saved, to skip writes that would
// change nothing but UpdatedAt. Its methods are safe for concurrent use.
type Store struct {
	client    client.Client
	namespace string
	site      string
	heartbeat time.Duration

	mu   sync.Mutex
	last []byte // the stored status without UpdatedAt; nil when unknown
	at   time.Time
}

// NewStore returns a Store for site's status in namespace.
func NewStore(c client.Client, namespace, site string) *Store {
	return &Store{client: c, namespace: namespace, site: site, heartbeat: DefaultHeartbeat}
}

// Load returns the stored status, or nil (and no error) when there is none.
func (s *Store) Load(ctx context.Context) (*SiteStatus, error) {
	var cm corev1.ConfigMap
	err := s.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: ConfigMapName(s.site)}, &cm)
	if apierrors.IsNotFound(err) {
		s.remember(nil, time.Time{})
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading status of site %s in namespace %s: %w", s.site, s.namespace, err)
	}
	data, ok := cm.Data[DataKey]
	if !ok {
		return nil, fmt.Errorf("ConfigMap %s/%s has no %s", cm.Namespace, cm.Name, DataKey)
	}
	st := &SiteStatus{}
	if err := yaml.Unmarshal([]byte(data), st); err != nil {
		return nil, fmt.Errorf("decoding ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	if key, err := withoutUpdatedAt(st); err == nil {
		s.remember(key, st.UpdatedAt)
	}
	return st, nil
}

// Save stores st, creating the ConfigMap (and the namespace) when needed, by
// server-side apply. It writes nothing, and returns false, when st differs
// from what this Store last loaded or saved only by an UpdatedAt less than
// the heartbeat (DefaultHeartbeat) later; the first Save after NewStore
// without a Load always writes.
func (s *Store) Save(ctx context.Context, st *SiteStatus) (bool, error) {
	if st.Site != s.site {
		return false, fmt.Errorf("saving status of site %q in the store of site %q", st.Site, s.site)
	}
	key, err := withoutUpdatedAt(st)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last != nil && bytes.Equal(key, s.last) && st.UpdatedAt.Sub(s.at) < s.heartbeat {
		return false, nil
	}
	data, err := yaml.Marshal(st)
	if err != nil {
		return false, fmt.Errorf("encoding status of site %s: %w", s.site, err)
	}
	cm := corev1ac.ConfigMap(ConfigMapName(s.site), s.namespace).
		WithLabels(map[string]string{LabelSite: s.site, LabelStatus: "true"}).
		WithData(map[string]string{DataKey: string(data)})
	err = s.client.Apply(ctx, cm, client.FieldOwner(FieldManager), client.ForceOwnership)
	if apierrors.IsNotFound(err) {
		if err = s.ensureNamespace(ctx); err == nil {
			err = s.client.Apply(ctx, cm, client.FieldOwner(FieldManager), client.ForceOwnership)
		}
	}
	if err != nil {
		return false, fmt.Errorf("saving status of site %s in namespace %s: %w", s.site, s.namespace, err)
	}
	s.last, s.at = key, st.UpdatedAt
	return true, nil
}

// remember records the stored status's comparable form and UpdatedAt.
func (s *Store) remember(key []byte, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last, s.at = key, at
}

func (s *Store) ensureNamespace(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.namespace}}
	if err := s.client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", s.namespace, err)
	}
	return nil
}

// withoutUpdatedAt is st encoded without UpdatedAt.
func withoutUpdatedAt(st *SiteStatus) ([]byte, error) {
	c := *st
	c.UpdatedAt = time.Time{}
	b, err := yaml.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encoding status of site %s: %w", st.Site, err)
	}
	return b, nil
}

// Sites lists the sites that have a status ConfigMap in namespace, sorted.
func Sites(ctx context.Context, c client.Reader, namespace string) ([]string, error) {
	var list corev1.ConfigMapList
	if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{LabelStatus: "true"}); err != nil {
		return nil, fmt.Errorf("listing site statuses in namespace %s: %w", namespace, err)
	}
	var sites []string
	for _, cm := range list.Items {
		if site := cm.Labels[LabelSite]; site != "" {
			sites = append(sites, site)
		}
	}
	sort.Strings(sites)
	return sites, nil
}
