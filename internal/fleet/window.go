package fleet

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Window is a recurring period: it opens at every activation of a cron
// schedule and stays open for Duration.
type Window struct {
	// Schedule is a standard 5-field cron expression (or a descriptor such as
	// @daily), in UTC unless it starts with CRON_TZ=<zone>.
	Schedule string `json:"schedule"`
	// Duration is how long the window stays open after each activation.
	Duration Duration `json:"duration"`
}

// Open reports whether at falls inside the window: whether the schedule
// activated at some s with s <= at < s+Duration.
func (w Window) Open(at time.Time) (bool, error) {
	sched, err := parseSchedule(w.Schedule)
	if err != nil {
		return false, err
	}
	start := sched.Next(at.Add(-w.Duration.Duration))
	return !start.IsZero() && !start.After(at), nil
}

// parseSchedule parses a standard cron schedule, in UTC unless it names its
// own time zone.
func parseSchedule(s string) (cron.Schedule, error) {
	if s == "" {
		return nil, fmt.Errorf("required")
	}
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		// cron panics on a time zone that is not followed by a schedule.
		if !strings.Contains(s, " ") {
			return nil, fmt.Errorf("invalid schedule %q: time zone must be followed by a schedule", s)
		}
	} else {
		s = "CRON_TZ=UTC " + s
	}
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return nil, fmt.Errorf("invalid schedule %q: %w", strings.TrimPrefix(s, "CRON_TZ=UTC "), err)
	}
	return sched, nil
}

// checkWindow validates a maintenance window at p.
func (d *document) checkWindow(p fieldPath, w Window) {
	if _, err := parseSchedule(w.Schedule); err != nil {
		d.errorf(p.child("schedule"), "%v", err)
	}
	if w.Duration.Duration <= 0 {
		d.errorf(p.child("duration"), "required: must be a positive duration such as 4h")
	}
}

// NextOpen is the earliest time at or after at when the window is open: at
// itself when it is open then, otherwise the schedule's next activation.
func (w Window) NextOpen(at time.Time) (time.Time, error) {
	open, err := w.Open(at)
	if err != nil || open {
		return at, err
	}
	sched, err := parseSchedule(w.Schedule)
	if err != nil {
		return time.Time{}, err
	}
	return sched.Next(at), nil
}

// NextOpen is the earliest time at or after at when any of windows is open;
// with no windows, at itself (no window means any time).
func NextOpen(windows []Window, at time.Time) (time.Time, error) {
	if len(windows) == 0 {
		return at, nil
	}
	var next time.Time
	for _, w := range windows {
		t, err := w.NextOpen(at)
		if err != nil {
			return time.Time{}, err
		}
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next, nil
}
