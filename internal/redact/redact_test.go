package redact

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func object(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	o := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &o.Object); err != nil {
		t.Fatal(err)
	}
	return o
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestText(t *testing.T) {
	secret := object(t, `apiVersion: v1
kind: Secret
metadata:
  name: s
  annotations: {kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"`+b64("hunter2-password")+`"}}'}
data: {password: `+b64("hunter2-password")+`, short: `+b64("ab")+`}
stringData:
  token: tok-3f9a
  pin: 734910582736
  nested: {inner: nested-value}
  pem: "-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\n-----END KEY-----\n"
  quoted: 'say "hi" there'
`)
	configMap := object(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {level: tok-3f9a-info}\n")
	crd := object(t, "apiVersion: example.com/v1\nkind: Secret\nmetadata: {name: x}\ndata: {v: not-core-secret}\n")
	for _, tc := range []struct {
		name, in, want string
		objs           []*unstructured.Unstructured
	}{
		{"data value as written", "data.password: " + b64("hunter2-password"), "data.password: ***", nil},
		{"data value decoded", `value "hunter2-password" refused`, `value "***" refused`, nil},
		{"stringData value", "token tok-3f9a!", "token ***!", nil},
		{"stringData value base64-encoded", "got " + b64("tok-3f9a"), "got ***", nil},
		{"a number the API server echoes",
			".stringData.pin: expected string, got &value.valueUnstructured{Value:734910582736}",
			".stringData.pin: expected string, got &value.valueUnstructured{Value:***}", nil},
		{"a string within a map",
			`got &value.valueUnstructured{Value:map[string]interface {}{"inner":"nested-value"}}`,
			`got &value.valueUnstructured{Value:map[string]interface {}***}`, nil},
		{"a line of a value of several lines", "key line AAAABBBBCCCCDDDD", "key line ***", nil},
		{"a value as Go quotes it", `Value:"say \"hi\" there"`, `Value:"***"`, nil},
		{"the last-applied annotation", `annotation {"data":{"password":"` + b64("hunter2-password") + `"}}`, "annotation ***", nil},
		{"values shorter than MinLength stay", "ab and YWI=", "ab and ***", nil},
		{"a message without values", "Secret/n/s dry-run failed (Invalid)", "Secret/n/s dry-run failed (Invalid)", nil},
		{"a ConfigMap holds no secret", "level tok-3f9a-info", "level tok-3f9a-info", []*unstructured.Unstructured{configMap}},
		{"a Secret of another group is no core Secret", "v not-core-secret", "v not-core-secret", []*unstructured.Unstructured{crd}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := tc.objs
			if objs == nil {
				objs = []*unstructured.Unstructured{configMap, secret}
			}
			if got := Text(tc.in, objs...); got != tc.want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestErrorKeepsTheChain(t *testing.T) {
	secret := object(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {token: tok-3f9a}\n")
	inner := &fs.PathError{Op: "apply", Path: "Secret/s", Err: fs.ErrInvalid}
	err := Error(fmt.Errorf("got tok-3f9a: %w", inner), secret)
	if got := err.Error(); strings.Contains(got, "tok-3f9a") || got != "got ***: apply Secret/s: invalid argument" {
		t.Errorf("Error() = %q", got)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("the redacted error lost its chain: %v", err)
	}
	plain := errors.New("nothing secret")
	if Error(plain, secret) != plain || Error(nil, secret) != nil {
		t.Error("Error must return err itself when nothing is redacted, nil for nil")
	}
}

func TestObjects(t *testing.T) {
	secret := func(data, stringData map[string]any) *unstructured.Unstructured {
		o := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "s", "namespace": "n", "annotations": map[string]any{LastApplied: `{"data":{"a":"c2VjcmV0"}}`}},
		}}
		if data != nil {
			o.Object["data"] = data
		}
		if stringData != nil {
			o.Object["stringData"] = stringData
		}
		return o
	}
	before := secret(map[string]any{"same": "c2VjcmV0", "changed": "b2xk", "gone": "eA=="}, map[string]any{"token": "old-token"})
	after := secret(map[string]any{"same": "c2VjcmV0", "changed": "bmV3", "added": "eQ=="}, map[string]any{"token": "new-token"})
	Objects(before, after)
	got := unified(t, before, after)
	for _, secretValue := range []string{"c2VjcmV0", "b2xk", "bmV3", "eA==", "eQ==", "old-token", "new-token"} {
		if strings.Contains(got, secretValue) {
			t.Errorf("diff shows the secret value %q:\n%s", secretValue, got)
		}
	}
	for _, want := range []string{"-  changed: '*** (before)'", "+  changed: '*** (after)'", "-  gone: '***'", "+  added: '***'", "+  token: '*** (after)'", "   same: '***'"} {
		if !strings.Contains(got, want) {
			t.Errorf("diff lacks %q:\n%s", want, got)
		}
	}
	// A Secret on one side only is masked too; other kinds are not touched.
	created := secret(map[string]any{"k": "c2VjcmV0"}, nil)
	Objects(nil, created)
	if v, _, _ := unstructured.NestedString(created.Object, "data", "k"); v != Mask {
		t.Errorf("created Secret value = %q, want ***", v)
	}
	if created.GetAnnotations()[LastApplied] != Mask {
		t.Errorf("created Secret annotation = %q, want ***", created.GetAnnotations()[LastApplied])
	}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"k": "v"}}}
	Objects(cm, nil)
	if v, _, _ := unstructured.NestedString(cm.Object, "data", "k"); v != "v" {
		t.Errorf("ConfigMap value masked: %q", v)
	}
}

func unified(t *testing.T, a, b *unstructured.Unstructured) string {
	t.Helper()
	ay, err := yaml.Marshal(a.Object)
	if err != nil {
		t.Fatal(err)
	}
	by, err := yaml.Marshal(b.Object)
	if err != nil {
		t.Fatal(err)
	}
	out, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: difflib.SplitLines(string(ay)), B: difflib.SplitLines(string(by)), FromFile: "a", ToFile: "b", Context: 3})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
