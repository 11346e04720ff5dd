package fleet

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	yaml "go.yaml.in/yaml/v3"
)

// celCostLimit bounds the work of one evaluation of a targets or health
// expression; it is far above what any reasonable expression needs.
const celCostLimit = 1_000_000

// targetSite is the `site` variable of targets expressions.
type targetSite struct {
	Name   string            `cel:"name"`
	Labels map[string]string `cel:"labels"`
}

// celEnvs are the CEL environments of one Load.
type celEnvs struct {
	targets *cel.Env // `site`, a targetSite
	health  *cel.Env // `object`, a live object as map(string, dyn)
	policy  *cel.Env // `object`, a rendered object, and `site`
}

func newCELEnvs() (*celEnvs, error) {
	targets, err := cel.NewEnv(
		// Native types compose over the types registered before them.
		cel.OptionalTypes(),
		ext.Strings(),
		ext.NativeTypes(reflect.TypeFor[targetSite](), ext.ParseStructTags(true)),
		cel.Variable("site", cel.ObjectType("fleet.targetSite")),
	)
	if err != nil {
		return nil, fmt.Errorf("creating CEL environment for targets: %w", err)
	}
	health, err := cel.NewEnv(
		cel.Variable("object", cel.MapType(cel.StringType, cel.DynType)),
		cel.OptionalTypes(),
		ext.Strings(),
	)
	if err != nil {
		return nil, fmt.Errorf("creating CEL environment for health checks: %w", err)
	}
	policy, err := targets.Extend(cel.Variable("object", cel.MapType(cel.StringType, cel.DynType)))
	if err != nil {
		return nil, fmt.Errorf("creating CEL environment for policies: %w", err)
	}
	return &celEnvs{targets: targets, health: health, policy: policy}, nil
}

// compileBool compiles the boolean CEL expression at field p of the
// document, recording type-check errors at their line. It returns nil on
// failure.
func (d *document) compileBool(env *cel.Env, p fieldPath, expr string) cel.Program {
	prg, _ := d.compileBoolAST(env, p, expr)
	return prg
}

// compileBoolAST is compileBool, also returning the checked expression
// (nil on failure).
func (d *document) compileBoolAST(env *cel.Env, p fieldPath, expr string) (cel.Program, *cel.Ast) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		for _, e := range iss.Errors() {
			msg := strings.TrimSuffix(e.Message, " (in container '')")
			d.errs = append(d.errs, &Error{File: d.file, Line: d.exprLine(p, e.Location.Line()), Field: p.String(), Msg: msg})
		}
		return nil, nil
	}
	if out := ast.OutputType(); !out.IsExactType(types.BoolType) && !out.IsExactType(types.DynType) {
		d.errorf(p, "must evaluate to a bool, got %s", out)
		return nil, nil
	}
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit))
	if err != nil {
		d.errorf(p, "%v", err)
		return nil, nil
	}
	return prg, ast
}

// exprLine returns the line, in the file, of line exprLine of the expression
// at p: in a literal block scalar (`targets: |`) expression lines are file
// lines; otherwise the expression is reported at its field's line.
func (d *document) exprLine(p fieldPath, exprLine int) int {
	if v := d.value(p); v != nil && v.Style&yaml.LiteralStyle != 0 && exprLine > 0 {
		return v.Line + exprLine
	}
	return d.line(p)
}

// evalBool evaluates prg and checks that the result is a bool.
func evalBool(prg cel.Program, vars map[string]any) (bool, error) {
	out, _, err := prg.Eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("must evaluate to a bool, got %s", out.Type().TypeName())
	}
	return bool(b), nil
}
