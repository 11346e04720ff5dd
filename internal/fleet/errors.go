package fleet

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in a fleet file. Its text is
//
//	FILE:LINE: FIELD: MSG
//
// for example `products/auth/product.yaml:7: spec.targets: undeclared
// reference to 'sit'`. LINE is omitted when the problem is not at a line
// (a missing file, a directory), FIELD when it is not about a field (a
// YAML syntax error).
type Error struct {
	// File is the path of the file (or directory) relative to the repo root.
	File string
	// Line is the 1-based line of the field, or 0 when not applicable.
	Line int
	// Field is the path of the field, such as spec.conflictRules[0].strategy
	// or spec.products[auth].maxVersion, or empty.
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem as FILE:LINE: FIELD: MSG.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// problems collects the errors found while loading.
type problems []*Error

// addf records a problem about a file or directory, not at any line.
func (p *problems) addf(file, format string, args ...any) {
	*p = append(*p, &Error{File: file, Msg: fmt.Sprintf(format, args...)})
}

// join sorts the problems by file, line and field and joins them into one
// error; it returns nil when there are none.
func (p problems) join() error {
	if len(p) == 0 {
		return nil
	}
	sorted := slices.Clone(p)
	slices.SortStableFunc(sorted, compareErrors)
	sorted = slices.CompactFunc(sorted, func(a, b *Error) bool { return *a == *b })
	errs := make([]error, len(sorted))
	for i, e := range sorted {
		errs[i] = e
	}
	return errors.Join(errs...)
}

func compareErrors(a, b *Error) int {
	return cmp.Or(
		cmp.Compare(a.File, b.File),
		cmp.Compare(a.Line, b.Line),
		cmp.Compare(a.Field, b.Field),
		cmp.Compare(a.Msg, b.Msg),
	)
}
