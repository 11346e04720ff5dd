package inventory

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FuzzDecode feeds arbitrary inventory ConfigMap data (which anyone with
// write access to syncd's namespace can edit) to the decoder: it must not
// panic, and what it accepts must survive being written and read again.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		"",
		"default_web_apps_Deployment v1 123\ndefault_cfg__ConfigMap v1\n",
		"_ns1__Namespace v1",
		"a_b_c_D",
		"a_b_c_D v1 2 3",
		"default__rbac.authorization.k8s.io_Role v1\n\n  \n",
		"x__y",
		"\x00 \x00",
	} {
		f.Add("web", seed)
	}
	f.Fuzz(func(t *testing.T, product, objects string) {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "inv", Namespace: "syncd", Labels: map[string]string{labelProduct: product}},
			Data:       map[string]string{"version": "1.0.0", "objects": objects},
		}
		inv, err := decode(cm)
		if err != nil {
			if !strings.Contains(err.Error(), "ConfigMap syncd/inv") {
				t.Fatalf("error %q does not name the ConfigMap", err)
			}
			return
		}
		if inv.Product != product {
			t.Fatalf("product = %q, want %q from the label", inv.Product, product)
		}
		lines := make([]string, len(inv.Entries))
		for i, e := range inv.Entries {
			lines[i] = e.String()
		}
		cm.Data["objects"] = strings.Join(lines, "\n")
		again, err := decode(cm)
		if err != nil {
			t.Fatalf("re-reading %q: %v", cm.Data["objects"], err)
		}
		if !reflect.DeepEqual(again.Entries, inv.Entries) {
			t.Fatalf("entries changed on a round trip:\n%+v\n%+v", inv.Entries, again.Entries)
		}
	})
}
