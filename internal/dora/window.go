package dora

import (
	"fmt"
	"math"
	"time"
)

// Window units beyond Go's: a day is 24 hours and a week 7 days (calendar
// days of a time zone are not meant).
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// ParseWindow reads a window length: a Go duration (time.ParseDuration)
// whose terms may also use the units d (24h) and w (7d), such as 30d, 2w,
// 1w3d12h or 36h. It must be positive; signs are not accepted.
func ParseWindow(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("window %q: empty; want e.g. 30d, 2w or 36h", s)
	}
	var total time.Duration
	for rest := s; rest != ""; {
		i := 0
		for i < len(rest) && isNumeral(rest[i]) {
			i++
		}
		j := i
		for j < len(rest) && !isNumeral(rest[j]) {
			j++
		}
		if i == 0 {
			return 0, fmt.Errorf("window %q: want a number before %q (e.g. 30d, 2w or 36h)", s, rest[:j])
		}
		num, unit := rest[:i], rest[i:j]
		rest = rest[j:]
		if unit == "" {
			// time.ParseDuration takes a lone "0": not as a term.
			return 0, fmt.Errorf("window %q: missing unit after %s (units: ns, us, ms, s, m, h, d, w)", s, num)
		}
		var (
			d   time.Duration
			err error
		)
		switch unit {
		case "d", "w":
			scale := time.Duration(Day / time.Hour)
			if unit == "w" {
				scale = time.Duration(Week / time.Hour)
			}
			if d, err = time.ParseDuration(num + "h"); err == nil {
				if d > math.MaxInt64/scale {
					return 0, fmt.Errorf("window %q: too long", s)
				}
				d *= scale
			}
		default:
			d, err = time.ParseDuration(num + unit)
		}
		if err != nil {
			return 0, fmt.Errorf("window %q: %w (units: ns, us, ms, s, m, h, d, w)", s, err)
		}
		if d > math.MaxInt64-total {
			return 0, fmt.Errorf("window %q: too long", s)
		}
		total += d
	}
	if total <= 0 {
		return 0, fmt.Errorf("window %q: want a positive duration", s)
	}
	return total, nil
}

func isNumeral(b byte) bool { return b == '.' || '0' <= b && b <= '9' }

// FormatDuration writes d for a table: the two largest of days, hours,
// minutes and seconds that are not zero ("3d4h", "2h5m", "45s", "0s").
func FormatDuration(d time.Duration) string {
	if d < time.Second {
		return "0s"
	}
	units := []struct {
		size time.Duration
		name string
	}{{Day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	out, terms := "", 0
	for _, u := range units {
		n := d / u.size
		if n == 0 && terms == 0 {
			continue
		}
		d -= n * u.size
		if terms++; n > 0 {
			out += fmt.Sprintf("%d%s", n, u.name)
		}
		if terms == 2 {
			break
		}
	}
	return out
}
