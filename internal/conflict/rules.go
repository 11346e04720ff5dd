package conflict

import (
	"strings"

	"github.com/syncd-dev/syncd/internal/fleet"
)

// Target is one conflicted field, as rules see it.
type Target struct {
	Group, Kind, Namespace, Name string
	// Pointer is the field as a JSON pointer.
	Pointer string
	// Manager owns the live value.
	Manager string
}

// Rules chooses a strategy per conflict: the most specific matching site
// conflict rule, else the product's, the site's, then the fleet's strategy.
type Rules struct {
	// Site are the site's conflictRules, in file order.
	Site []fleet.ConflictRule
	// Default is the product > site > fleet strategy.
	Default fleet.ConflictStrategy
}

// Strategy returns the strategy for t and the rule that chose it (nil when
// the default applied).
func (r Rules) Strategy(t Target) (fleet.ConflictStrategy, *fleet.ConflictRule) {
	best, bestScore := -1, -1
	for i, rule := range r.Site {
		if score, ok := matches(rule, t); ok && score > bestScore {
			best, bestScore = i, score
		}
	}
	if best >= 0 {
		return r.Site[best].Strategy, &r.Site[best]
	}
	if r.Default == "" {
		return fleet.DefaultConflictStrategy, nil
	}
	return r.Default, nil
}

// matches reports whether rule selects t, and how specifically: each set
// matcher counts, a path by the number of its segments so /spec/template/x
// beats /spec.
func matches(rule fleet.ConflictRule, t Target) (int, bool) {
	score := 0
	for _, m := range []struct{ want, got string }{
		{rule.Group, t.Group}, {rule.Kind, t.Kind}, {rule.Namespace, t.Namespace},
		{rule.Name, t.Name}, {rule.Manager, t.Manager},
	} {
		if m.want == "" {
			continue
		}
		if m.want != m.got {
			return 0, false
		}
		score += 100
	}
	if rule.Path != "" {
		if !underPointer(t.Pointer, rule.Path) {
			return 0, false
		}
		score += 100 + strings.Count(rule.Path, "/")
	}
	return score, true
}

// underPointer reports whether pointer is prefix or below it.
func underPointer(pointer, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return pointer == prefix || strings.HasPrefix(pointer, prefix+"/")
}
