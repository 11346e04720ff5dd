package fleet

import (
	"errors"
	"slices"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "products/auth/product.yaml", Line: 7, Field: "spec.targets", Msg: "undeclared reference to 'sit'"},
			"products/auth/product.yaml:7: spec.targets: undeclared reference to 'sit'"},
		{Error{File: "fleet.yaml", Line: 3, Msg: "invalid YAML: did not find expected key"},
			"fleet.yaml:3: invalid YAML: did not find expected key"},
		{Error{File: "fleet.yaml", Msg: "file not found"}, "fleet.yaml: file not found"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestProblemsJoinSortsAndDeduplicates(t *testing.T) {
	b2 := &Error{File: "b", Line: 2, Msg: "x"}
	probs := problems{b2, {File: "a", Line: 9, Msg: "x"}, {File: "b", Line: 1, Msg: "x"}, {File: "b", Line: 2, Msg: "x"}}
	err := probs.join()
	want := []string{"a:9: x", "b:1: x", "b:2: x"}
	if got := errorStrings(err); !slices.Equal(got, want) {
		t.Errorf("join() = %q, want %q", got, want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Error("errors.As(*Error) = false, want true")
	}
	if problems(nil).join() != nil {
		t.Error("join() of no problems is not nil")
	}
}
