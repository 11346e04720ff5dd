package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/syncd-dev/syncd/internal/tracing/tracingtest"
)

// pushTrace is one timed push: when it ended (the clock the latency is
// measured from) and the commit it pushed.
type pushTrace struct {
	sha  string
	at   time.Time
	took time.Duration
	// product is the product whose ConfigMap the push changed.
	product string
}

// stepOrder is the order the breakdown prints the steps of a reconcile in.
var stepOrder = []string{"wait", "fetch", "plan", "verify", "read", "live", "apply", "applied", "record", "health", "status.publish"}

// breakdown prints where the time of the pushes went, from the daemon's
// trace spans: "wait" from the end of the push to the start of the
// reconcile of its commit (the poll's wait, or a reconcile still running),
// then that reconcile's top-level steps ("read": inventories, conflicts and
// the live objects before the first product, "live" the LISTs of the
// latter; "apply": the stages up to the
// end of the changed product's apply; "applied": from there to the end of
// the stages), as medians over the pushes.
func breakdown(spans []tracingtest.Span, pushes []pushTrace) string {
	byRevision := map[string]tracingtest.Span{}
	children := map[string][]tracingtest.Span{}
	byTrace := map[string][]tracingtest.Span{}
	for _, s := range spans {
		// The first reconcile of each revision (spans come by start time).
		if _, seen := byRevision[s.Attributes["syncd.revision"]]; s.Name == "reconcile" && !seen {
			byRevision[s.Attributes["syncd.revision"]] = s
		}
		children[s.ParentID] = append(children[s.ParentID], s)
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
	}
	steps := map[string][]time.Duration{}
	traced := 0
	for _, p := range pushes {
		root, ok := byRevision[p.sha]
		if !ok {
			continue
		}
		traced++
		start := time.Unix(0, int64(root.StartNano))
		steps["wait"] = append(steps["wait"], start.Sub(p.at))
		var firstStage, lastStage, applyEnd uint64
		liveSeen := false
		for _, c := range children[root.SpanID] {
			switch c.Name {
			case "live":
				// The first: the read before the apply.
				if !liveSeen {
					liveSeen = true
					steps["live"] = append(steps["live"], time.Duration(c.EndNs-c.StartNano))
				}
			case "stage":
				if firstStage == 0 || c.StartNano < firstStage {
					firstStage = c.StartNano
				}
				lastStage = max(lastStage, c.EndNs)
			case "fetch", "plan", "verify", "record", "health", "status.publish":
				steps[c.Name] = append(steps[c.Name], time.Duration(c.EndNs-c.StartNano))
			}
		}
		for _, s := range byTrace[root.TraceID] {
			if s.Name == "apply" && s.Attributes["syncd.product"] == p.product {
				applyEnd = s.EndNs
			}
		}
		var verifyEnd uint64
		for _, c := range children[root.SpanID] {
			if c.Name == "verify" {
				verifyEnd = c.EndNs
			}
		}
		if firstStage > 0 && verifyEnd > 0 {
			steps["read"] = append(steps["read"], time.Duration(firstStage-verifyEnd))
		}
		if applyEnd > 0 && firstStage > 0 {
			steps["apply"] = append(steps["apply"], time.Duration(applyEnd-firstStage))
			steps["applied"] = append(steps["applied"], time.Duration(lastStage-applyEnd))
		}
	}
	if traced == 0 {
		return "no reconcile trace of the pushed commits received"
	}
	var parts []string
	for _, name := range stepOrder {
		d := steps[name]
		if len(d) == 0 {
			continue
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		parts = append(parts, fmt.Sprintf("%s %s", name, d[len(d)/2].Round(time.Millisecond)))
	}
	return fmt.Sprintf("medians over %d traced pushes: %s", traced, strings.Join(parts, ", "))
}
