// Package redact keeps the values of Kubernetes Secrets out of everything
// syncd prints: logs, Events, trace spans, status reports, diffs and errors.
//
// Two kinds of output carry values. Objects, in diffs, are masked by
// structure (Objects): the values of a Secret's data and stringData, and the
// kubectl last-applied annotation that copies them, become Mask. Text, in
// messages, is scrubbed of every value the objects involved hold (Text,
// Error): the API server echoes values in some refusals, such as
// ".stringData.pin: expected string, got &value.valueUnstructured{Value:1234}".
//
// Conflicts are not redacted here: they must tell two values apart, so they
// carry keyed hashes of them instead (conflict.HashValue).
package redact

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Masks that replace secret values. A diff shows MaskBefore and MaskAfter
// where the two versions of a value differ, so that it says which keys
// changed and never a value.
const (
	Mask       = "***"
	MaskBefore = "*** (before)"
	MaskAfter  = "*** (after)"
)

// MinLength is the length under which a value is not searched for in text:
// shorter values cannot be told apart from the words of a message, and
// replacing them would garble it more than it protects.
const MinLength = 4

// LastApplied is the annotation where a client-side `kubectl apply` keeps
// the whole object it applied, Secret data included.
const LastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// IsSecret reports whether o is a core Secret, whose values are secret.
func IsSecret(o *unstructured.Unstructured) bool {
	return o != nil && o.GetKind() == "Secret" && o.GroupVersionKind().Group == ""
}

// Text returns s with every secret value that objs hold replaced by Mask:
// of each Secret among objs, the values of data (as written, base64, and
// decoded) and of stringData (as written and base64-encoded), a value that
// is not a string as Go and JSON print it and each scalar within it, each line of a
// value of several lines, each also as Go and JSON quote it, and the kubectl
// last-applied annotation. Other objects hold no secret values.
func Text(s string, objs ...*unstructured.Unstructured) string {
	for _, v := range values(objs) {
		s = strings.ReplaceAll(s, v, Mask)
	}
	return s
}

// Error returns err with its message redacted by Text (nil for nil); errors.Is
// and errors.As still see the errors err wraps. It returns err itself when
// nothing in the message is secret.
func Error(err error, objs ...*unstructured.Unstructured) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := Text(msg, objs...); red != msg {
		return &redacted{msg: red, err: err}
	}
	return err
}

// redacted is an error whose message lost its secret values.
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// values lists the secret values of objs as Text searches for them, longest
// first (so a value is replaced whole before any shorter value within it).
func values(objs []*unstructured.Unstructured) []string {
	seen := map[string]bool{}
	add := func(v string) {
		if len(v) < MinLength {
			return
		}
		forms := []string{v, quoteInner(strconv.Quote(v))}
		if j, err := json.Marshal(v); err == nil {
			forms = append(forms, quoteInner(string(j)))
		}
		if strings.Contains(v, "\n") {
			for line := range strings.SplitSeq(v, "\n") {
				if line = strings.TrimSpace(line); len(line) >= MinLength {
					forms = append(forms, line)
				}
			}
		}
		for _, f := range forms {
			seen[f] = true
		}
	}
	for _, o := range objs {
		if !IsSecret(o) {
			continue
		}
		for field, encoded := range map[string]bool{"data": true, "stringData": false} {
			m, _, _ := unstructured.NestedFieldNoCopy(o.Object, field)
			mm, _ := m.(map[string]any)
			for _, v := range mm {
				s, ok := v.(string)
				if !ok {
					// Not a string (the API server refuses it, and says
					// why with the value): as Go prints it, and each
					// string within.
					add(fmt.Sprint(v))
					if j, err := json.Marshal(v); err == nil {
						add(string(j))
					}
					leaves(v, add)
					continue
				}
				add(s)
				if !encoded {
					add(base64.StdEncoding.EncodeToString([]byte(s)))
				} else if raw, err := base64.StdEncoding.DecodeString(s); err == nil {
					add(string(raw))
				}
			}
		}
		add(o.GetAnnotations()[LastApplied])
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return out
}

// leaves calls add with each scalar within v, as Go prints it.
func leaves(v any, add func(string)) {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			leaves(e, add)
		}
	case []any:
		for _, e := range x {
			leaves(e, add)
		}
	case nil:
	default:
		add(fmt.Sprint(x))
		if j, err := json.Marshal(x); err == nil {
			add(string(j))
		}
	}
}

// quoteInner drops the quotes around a quoted string.
func quoteInner(q string) string {
	return q[1 : len(q)-1]
}

// Objects masks, in place, the values of two versions of a Secret (either
// may be nil; other kinds are left alone), for a diff of the two: data and
// stringData values become Mask, or MaskBefore and MaskAfter where the two
// versions differ, and so does a kubectl last-applied annotation, which
// copies them. A diff of the masked objects shows which keys changed and
// never a value.
func Objects(before, after *unstructured.Unstructured) {
	if !IsSecret(before) && !IsSecret(after) {
		return
	}
	for _, field := range []string{"data", "stringData"} {
		b, a := nestedMap(before, field), nestedMap(after, field)
		for k, bv := range b {
			av, inAfter := a[k]
			switch {
			case !inAfter:
				b[k] = Mask
			case fmt.Sprint(av) != fmt.Sprint(bv):
				b[k], a[k] = MaskBefore, MaskAfter
			default:
				b[k], a[k] = Mask, Mask
			}
		}
		for k := range a {
			if _, inBefore := b[k]; !inBefore {
				a[k] = Mask
			}
		}
		setNestedMap(before, b, field)
		setNestedMap(after, a, field)
	}
	bl, inBefore := annotation(before)
	al, inAfter := annotation(after)
	maskBefore, maskAfter := Mask, Mask
	if inBefore && inAfter && bl != al {
		maskBefore, maskAfter = MaskBefore, MaskAfter
	}
	if inBefore {
		setAnnotation(before, maskBefore)
	}
	if inAfter {
		setAnnotation(after, maskAfter)
	}
}

func annotation(o *unstructured.Unstructured) (string, bool) {
	if o == nil {
		return "", false
	}
	v, ok := o.GetAnnotations()[LastApplied]
	return v, ok
}

func setAnnotation(o *unstructured.Unstructured, v string) {
	a := o.GetAnnotations()
	a[LastApplied] = v
	o.SetAnnotations(a)
}

func nestedMap(o *unstructured.Unstructured, field string) map[string]any {
	if o == nil {
		return nil
	}
	m, _, _ := unstructured.NestedMap(o.Object, field)
	return m
}

func setNestedMap(o *unstructured.Unstructured, m map[string]any, field string) {
	if o != nil && m != nil {
		_ = unstructured.SetNestedMap(o.Object, m, field)
	}
}
