package daemon

import (
	"math/rand/v2"
	"time"
)

// backoff is capped exponential backoff with jitter.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max} }

// next returns the next wait: doubling from min up to max, with ±20% jitter.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else if b.cur *= 2; b.cur > b.max {
		b.cur = b.max
	}
	jitter := time.Duration((rand.Float64()*0.4 - 0.2) * float64(b.cur))
	return b.cur + jitter
}

// reset starts over after a success.
func (b *backoff) reset() { b.cur = 0 }
