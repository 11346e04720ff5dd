package fleet

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"
)

// Field returns the path of the field of object that decided the policy's
// rule at site, such as spec.template.spec.containers[1].image: the most
// specific field of the object the rule read, with the index of the list
// element a macro (all, exists, ...) stopped at. It returns "" when the rule
// read no field of the object or cannot be evaluated. It re-evaluates the
// rule, so it is meant for violations, which are few.
func (p *Policy) Field(object map[string]any, site *Site) string {
	if p.ruleAST == nil {
		return ""
	}
	prg, err := p.env.Program(p.ruleAST, cel.EvalOptions(cel.OptTrackState), cel.CostLimit(celCostLimit))
	if err != nil {
		return ""
	}
	_, det, _ := prg.Eval(map[string]any{"object": object, "site": celSite(site)})
	if det == nil || det.State() == nil {
		return ""
	}
	f := &fieldFinder{state: det.State()}
	f.walk(p.ruleAST.NativeRep().Expr(), map[string]celast.Expr{})
	return f.best
}

// fieldFinder finds, in a rule evaluated with its state tracked, the most
// specific field of `object` the evaluation read.
type fieldFinder struct {
	state interpreter.EvalState
	best  string
	depth int // path elements of best
}

// walk visits e and its subexpressions; bound maps the iteration variables
// in scope to the expressions they range over.
func (f *fieldFinder) walk(e celast.Expr, bound map[string]celast.Expr) {
	switch e.Kind() {
	case celast.IdentKind:
		if _, ok := bound[e.AsIdent()]; ok {
			f.consider(e, bound)
		}
	case celast.SelectKind:
		f.consider(e, bound)
		f.walk(e.AsSelect().Operand(), bound)
	case celast.CallKind:
		c := e.AsCall()
		if c.FunctionName() == operators.Index || c.FunctionName() == operators.OptSelect {
			f.consider(e, bound)
		}
		if c.IsMemberFunction() {
			f.walk(c.Target(), bound)
		}
		for _, a := range c.Args() {
			f.walk(a, bound)
		}
	case celast.ListKind:
		for _, el := range e.AsList().Elements() {
			f.walk(el, bound)
		}
	case celast.MapKind:
		for _, en := range e.AsMap().Entries() {
			f.walk(en.AsMapEntry().Key(), bound)
			f.walk(en.AsMapEntry().Value(), bound)
		}
	case celast.ComprehensionKind:
		c := e.AsComprehension()
		f.walk(c.IterRange(), bound)
		f.walk(c.AccuInit(), bound)
		inner := make(map[string]celast.Expr, len(bound)+1)
		for k, v := range bound {
			inner[k] = v
		}
		delete(inner, c.AccuVar())
		delete(inner, c.IterVar())
		delete(inner, c.IterVar2())
		if !c.HasIterVar2() {
			inner[c.IterVar()] = c.IterRange()
		}
		f.walk(c.LoopCondition(), inner)
		f.walk(c.LoopStep(), inner)
		f.walk(c.Result(), inner)
	}
}

// celPathElem is one element of a field path: a field name, [index] or [key],
// or, with rng set, the element of rng an iteration variable stands for.
type celPathElem struct {
	name string
	rng  celast.Expr
}

// consider records e when it is a field of the object that was evaluated
// and is more specific than the best so far.
func (f *fieldFinder) consider(e celast.Expr, bound map[string]celast.Expr) {
	v, ok := f.state.Value(e.ID())
	if !ok {
		return
	}
	if opt, isOpt := v.(*types.Optional); isOpt {
		if !opt.HasValue() {
			return // a field the object does not have
		}
		v = opt.GetValue()
	}
	elems, ok := f.resolve(e, bound)
	if !ok {
		return
	}
	path := f.concrete(elems, v)
	if len(path) > f.depth {
		f.best, f.depth = joinPath(path), len(path)
	}
}

// resolve returns the path, within the object, of the value of e.
func (f *fieldFinder) resolve(e celast.Expr, bound map[string]celast.Expr) ([]celPathElem, bool) {
	switch e.Kind() {
	case celast.IdentKind:
		name := e.AsIdent()
		r, ok := bound[name]
		if !ok {
			return nil, name == "object"
		}
		outer := make(map[string]celast.Expr, len(bound))
		for k, v := range bound {
			outer[k] = v
		}
		delete(outer, name) // the range is evaluated outside the loop
		base, ok := f.resolve(r, outer)
		return append(base, celPathElem{rng: r}), ok
	case celast.SelectKind:
		s := e.AsSelect()
		base, ok := f.resolve(s.Operand(), bound)
		return append(base, celPathElem{name: s.FieldName()}), ok
	case celast.CallKind:
		c := e.AsCall()
		fn := c.FunctionName()
		if fn != operators.Index && fn != operators.OptSelect || len(c.Args()) != 2 || c.Args()[1].Kind() != celast.LiteralKind {
			return nil, false
		}
		base, ok := f.resolve(c.Args()[0], bound)
		switch k := c.Args()[1].AsLiteral().(type) {
		case types.Int:
			return append(base, celPathElem{name: "[" + strconv.FormatInt(int64(k), 10) + "]"}), ok
		case types.String:
			if fn == operators.OptSelect {
				return append(base, celPathElem{name: string(k)}), ok
			}
			return append(base, celPathElem{name: "[" + string(k) + "]"}), ok
		}
	}
	return nil, false
}

// concrete turns elems, the path of a value v the rule read, into field
// names: the element an iteration variable stands for is the element of its
// range that holds v (an index of a list, a key of a map). It stops before
// an element it cannot tell (a variable of a nested loop).
func (f *fieldFinder) concrete(elems []celPathElem, v ref.Val) []string {
	out := make([]string, 0, len(elems))
	for i, el := range elems {
		if el.rng == nil {
			out = append(out, el.name)
			continue
		}
		rest := elems[i+1:]
		rv, ok := f.state.Value(el.rng.ID())
		if !ok || slices.ContainsFunc(rest, func(e celPathElem) bool { return e.rng != nil }) {
			return out
		}
		which, ok := elementHolding(rv, rest, v)
		if !ok {
			return out
		}
		out = append(out, which)
	}
	return out
}

// elementHolding returns [index] of the element of the list rv whose value
// at rest is v, or [key] for the key v of the map rv.
func elementHolding(rv ref.Val, rest []celPathElem, v ref.Val) (string, bool) {
	if _, isMap := rv.(traits.Mapper); isMap {
		if len(rest) > 0 {
			return "", false
		}
		return fmt.Sprintf("[%v]", v.Value()), true
	}
	list, ok := rv.(traits.Lister)
	if !ok {
		return "", false
	}
	n, _ := list.Size().(types.Int)
	for i := types.Int(0); i < n; i++ {
		x := list.Get(i)
		for _, el := range rest {
			x = child(x, el.name)
		}
		if x == nil {
			continue
		}
		if eq, _ := x.Equal(v).(types.Bool); bool(eq) {
			return "[" + strconv.FormatInt(int64(i), 10) + "]", true
		}
	}
	return "", false
}

// child returns the field, [index] or [key] name of x; nil when x has none.
func child(x ref.Val, name string) ref.Val {
	ix, ok := x.(traits.Indexer)
	if x == nil || !ok {
		return nil
	}
	var key ref.Val = types.String(name)
	if strings.HasPrefix(name, "[") {
		inner := name[1 : len(name)-1]
		key = types.String(inner)
		if n, err := strconv.ParseInt(inner, 10, 64); err == nil {
			if _, isList := x.(traits.Lister); isList {
				key = types.Int(n)
			}
		}
	}
	if c, ok := x.(traits.Container); ok {
		if found, _ := c.Contains(key).(types.Bool); !bool(found) {
			return nil
		}
	}
	out := ix.Get(key)
	if types.IsError(out) {
		return nil
	}
	return out
}

// joinPath joins a, b, [0], c into a.b[0].c.
func joinPath(elems []string) string {
	out := ""
	for _, el := range elems {
		switch {
		case el != "" && el[0] == '[':
			out += el
		case out == "":
			out = el
		default:
			out += "." + el
		}
	}
	return out
}
