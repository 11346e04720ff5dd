package fleet

import (
	"math"
	"path"
	"strings"
)

// PipelineFor returns the pipeline that applies to product, or nil when
// none matches. A pipeline naming the product exactly wins; among patterns,
// the one with the most literal characters wins, then the first listed.
func (f *Fleet) PipelineFor(product string) *Pipeline {
	var (
		best      *Pipeline
		bestScore = -1
	)
	for i := range f.Spec.Pipelines {
		pl := &f.Spec.Pipelines[i]
		score := specificity(pl.Product, product)
		if score > bestScore {
			best, bestScore = pl, score
		}
	}
	return best
}

// specificity scores how specifically pattern matches product: -1 when it
// does not match, the number of literal characters for a pattern, and more
// than any pattern for an exact name.
func specificity(pattern, product string) int {
	if pattern == product && !isPattern(pattern) {
		return math.MaxInt
	}
	if !isPattern(pattern) {
		return -1
	}
	if ok, err := path.Match(pattern, product); err != nil || !ok {
		return -1
	}
	literal := 0
	for _, c := range pattern {
		if !strings.ContainsRune(`*?[]\`, c) {
			literal++
		}
	}
	return literal
}
