package conflict

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/wellknown"
)

// ValueKeyData is the data key of the Secret that holds a site's value key.
const ValueKeyData = "key"

// valueKeyLen is the length of a generated value key, in bytes.
const valueKeyLen = 32

// HashPrefix starts a Secret value as Conflicts, Events and logs show it.
const HashPrefix = "hmac-sha256:"

// ValueKeySecretName is the name of the Secret holding site's value key in
// syncd's namespace. Site names hold no dot, so no two sites share it.
func ValueKeySecretName(site string) string {
	return "syncd-value-key." + site
}

// LoadValueKey returns site's value key, the HMAC key Secret values are
// hashed with before they are stored in a Conflict or written to an Event or
// a log, from its Secret in namespace. The first call at a site creates the
// Secret with a random key. A keyed hash, unlike a plain SHA-256, cannot be
// checked against guessed passwords by whoever reads Conflicts or Events.
func LoadValueKey(ctx context.Context, c client.Client, namespace, site string) ([]byte, error) {
	name := ValueKeySecretName(site)
	for attempt := 0; attempt < 2; attempt++ {
		var s corev1.Secret
		err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s)
		if err == nil {
			key := s.Data[ValueKeyData]
			if len(key) < 16 {
				return nil, fmt.Errorf("secret %s/%s: %q holds %d bytes, want a key of at least 16", namespace, name, ValueKeyData, len(key))
			}
			return key, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading the value key of site %s: %w", site, err)
		}
		key := make([]byte, valueKeyLen)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("generating the value key of site %s: %w", site, err)
		}
		s = corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{wellknown.LabelSite: site}},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{ValueKeyData: key},
		}
		err = c.Create(ctx, &s)
		if err == nil {
			return key, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating the value key of site %s: %w", site, err)
		}
		// Another replica created it first: read theirs.
	}
	return nil, fmt.Errorf("reading the value key of site %s: created and deleted meanwhile", site)
}

// HashValue is data as Conflicts, Events and logs show a Secret's value:
// an HMAC-SHA256 with key. Without a key the value is only "hidden".
func HashValue(key, data []byte) string {
	if len(key) == 0 {
		return "(hidden)"
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	return HashPrefix + hex.EncodeToString(mac.Sum(nil))
}
