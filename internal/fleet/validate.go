package fleet

import (
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"
)

// checkTypeMeta records a problem unless the document declares kind and the
// fleet apiVersion. It is checked before anything else so that a file of the
// wrong kind is reported once rather than as a list of unknown fields.
func (d *document) checkTypeMeta(kind string) bool {
	ok := true
	apiVersion, gotKind := d.scalar("apiVersion"), d.scalar("kind")
	switch {
	case apiVersion == "":
		d.errorf(fieldPath{}.child("apiVersion"), "required: must be %q", APIVersion)
		ok = false
	case apiVersion != APIVersion:
		d.errorf(fieldPath{}.child("apiVersion"), "must be %q, got %q", APIVersion, apiVersion)
		ok = false
	}
	switch {
	case gotKind == "":
		d.errorf(fieldPath{}.child("kind"), "required: must be %q", kind)
		ok = false
	case gotKind != kind:
		d.errorf(fieldPath{}.child("kind"), "must be %q, got %q", kind, gotKind)
		ok = false
	}
	return ok
}

// scalar returns the value of a top-level scalar field, or "".
func (d *document) scalar(field string) string {
	n := d.value(fieldPath{}.child(field))
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// checkMeta validates metadata: a name equal to want (derived from the
// file's path, which the loader has already checked) and valid labels.
func (d *document) checkMeta(m ObjectMeta, want string) {
	p := fieldPath{}.child("metadata")
	switch {
	case m.Name == "":
		d.errorf(p.child("name"), "required")
	case m.Name != want:
		d.errorf(p.child("name"), "must be %q to match the file's path, got %q", want, m.Name)
	}
	d.checkLabels(p.child("labels"), m.Labels)
}

// checkLabels validates Kubernetes label keys and values.
func (d *document) checkLabels(p fieldPath, labels map[string]string) {
	for k, v := range labels {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			d.errorf(p.key(k), "invalid label key: %s", strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			d.errorf(p.key(k), "invalid label value %q: %s", v, strings.Join(msgs, "; "))
		}
	}
}

// checkName records a problem unless name is a DNS-1123 label.
func (d *document) checkName(p fieldPath, name string) bool {
	if err := dnsLabel(name); err != nil {
		d.errorf(p, "%v", err)
		return false
	}
	return true
}

// checkVersion records a problem unless v is a semantic version.
func (d *document) checkVersion(p fieldPath, v string) bool {
	if _, err := parseVersion(v); err != nil {
		d.errorf(p, "%v", err)
		return false
	}
	return true
}

// checkStrategy records a problem unless s is empty or a known strategy.
func (d *document) checkStrategy(p fieldPath, s ConflictStrategy) {
	switch s {
	case "", GitWins, ServerWins, Manual:
	default:
		d.errorf(p, "must be one of %s, %s, %s, got %q", GitWins, ServerWins, Manual, s)
	}
}

// checkChannel records a problem unless ch is declared in fleet.yaml.
func (d *document) checkChannel(p fieldPath, ch string, r *refs) {
	if ch == "" || r.channels == nil {
		return
	}
	if _, ok := r.channels[ch]; !ok {
		d.errorf(p, "channel %q is not declared in fleet.yaml (declared: %s)", ch, strings.Join(r.channelOrder, ", "))
	}
}

// dnsLabel returns an error unless name is a DNS-1123 label.
func dnsLabel(name string) error {
	if name == "" {
		return fmt.Errorf("required")
	}
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		return fmt.Errorf("invalid name %q: %s", name, strings.Join(msgs, "; "))
	}
	return nil
}

// parseVersion parses a strict semantic version: MAJOR.MINOR.PATCH with
// optional pre-release and build metadata, no "v" prefix.
func parseVersion(v string) (*semver.Version, error) {
	if v == "" {
		return nil, fmt.Errorf("required")
	}
	sv, err := semver.StrictNewVersion(v)
	if err != nil {
		return nil, fmt.Errorf("invalid version %q: must be a semantic version such as 1.2.3", v)
	}
	return sv, nil
}

// checkJSONPointer records a problem unless ptr is an RFC 6901 JSON pointer.
func (d *document) checkJSONPointer(p fieldPath, ptr string) {
	if ptr == "" {
		return
	}
	if !strings.HasPrefix(ptr, "/") {
		d.errorf(p, "invalid JSON pointer %q: must start with /", ptr)
		return
	}
	for i := 0; i < len(ptr); i++ {
		if ptr[i] == '~' && (i+1 == len(ptr) || (ptr[i+1] != '0' && ptr[i+1] != '1')) {
			d.errorf(p, "invalid JSON pointer %q: ~ must be followed by 0 or 1", ptr)
			return
		}
	}
}
