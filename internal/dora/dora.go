// Package dora computes the four DORA key metrics of a fleet (deployment
// frequency, lead time for changes, change failure rate, time to restore)
// from the events of its fleet repo's history: releases added, channel
// versions changed, releases recalled. It is pure: package fleethistory
// reads the events from Git.
//
// The definitions, per product and channel, over the window (Until-Window,
// Until] where Until is the head commit's committer time:
//
//   - Deployment: a first-parent commit that changes a channel's version in
//     channels/<product>.yaml (a promotion or a person's edit, also the
//     commit that adds the channel), unless it moves the channel off a
//     release that is recalled in that commit (a roll-off, counted apart).
//     The oldest commit of the history is the baseline (Change.Baseline),
//     not deployments.
//     Deployment frequency is the deployments in the window, also per week.
//   - Lead time for changes: for each release whose first arrival on the
//     channel is a deployment in the window, from the first commit (of any
//     branch) that contains products/<product>/releases/<version>/ to that
//     deployment.
//   - Change failure rate: of the releases deployed to the channel in the
//     window, the share recalled (release.yaml recalled set to true) after
//     their first deployment in the window.
//   - Time to restore: for each recall in the window of a release the
//     channel carried just before the recall commit, from the deployment
//     that put the release on the channel (not the baseline) to the recall
//     commit (from then
//     on sites run the newest release below it that is not recalled).
//
// Times are committer times. Medians and 90th percentiles are nearest-rank:
// the value at rank ceil(p/100 × n) of the n values sorted ascending (the
// median of an even count is the lower middle value).
package dora

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// Release is a release added to the fleet repo.
type Release struct {
	// Product and Version name it (products/<product>/releases/<version>/).
	Product string `json:"product"`
	Version string `json:"version"`
	// Time is the committer time of the earliest commit that contains its
	// directory, and Commit that commit.
	Time   time.Time `json:"time"`
	Commit string    `json:"commit"`
}

// Change is one channel's version changed by a first-parent commit.
type Change struct {
	// Seq orders the first-parent commits, oldest first: events of one
	// commit share it.
	Seq int `json:"seq"`
	// Product and Channel name the entry of channels/<product>.yaml.
	Product string `json:"product"`
	Channel string `json:"channel"`
	// From and To are the versions before and after ("" when the channel
	// had none or has none any more).
	From string `json:"from"`
	To   string `json:"to"`
	// RollOff is set when the commit moves the channel off a release that
	// is recalled in it (the recall commit's roll-back, or a person's).
	RollOff bool `json:"rollOff"`
	// Baseline is set on the versions of the oldest commit of the history
	// (From is ""): they were deployed before the history began, so they
	// are no deployments, but the channel carried them.
	Baseline bool `json:"baseline"`
	// Promoted is set when the change is the promoter's: the commit, or
	// the head of the branch it merges, is `promote <product> <To>:
	// <from> -> <Channel>`.
	Promoted bool `json:"promoted"`
	// Time is the commit's committer time.
	Time   time.Time `json:"time"`
	Commit string    `json:"commit"`
}

// Recall is a release marked recalled (release.yaml spec.recalled turned
// true) by a first-parent commit.
type Recall struct {
	Seq     int       `json:"seq"`
	Product string    `json:"product"`
	Version string    `json:"version"`
	Time    time.Time `json:"time"`
	Commit  string    `json:"commit"`
}

// History is what the metrics are computed from.
type History struct {
	// Head is the newest commit, and HeadTime its committer time.
	Head     string
	HeadTime time.Time
	// Channels are fleet.yaml spec.channels at the head, in order.
	Channels []string
	// Products are the products at the head (those of channels/ and
	// products/).
	Products []string
	// Releases, Changes and Recalls are the events of the whole history.
	Releases []Release
	Changes  []Change
	Recalls  []Recall
}

// Options choose the window and the headline channel.
type Options struct {
	// Window is how far back from the head's time the metrics look.
	Window time.Duration
	// Channel is the headline channel; the last of History.Channels when
	// empty.
	Channel string
}

// Report is the metrics of every product and of the fleet.
type Report struct {
	// Revision is the head commit.
	Revision string `json:"revision"`
	// Since and Until bound the window (Since excluded); Until is the head
	// commit's committer time.
	Since         time.Time `json:"since"`
	Until         time.Time `json:"until"`
	WindowSeconds int64     `json:"windowSeconds"`
	// Channel is the headline channel; Channels all of them, in order.
	Channel  string   `json:"channel"`
	Channels []string `json:"channels"`
	// Products are the products, sorted by name.
	Products []Product `json:"products"`
	// Fleet is every product together.
	Fleet Product `json:"fleet"`
}

// Product is the metrics of one product (or the fleet), per channel.
type Product struct {
	// Product is its name ("" for the fleet).
	Product string `json:"product"`
	// Channels are its metrics in the order of Report.Channels.
	Channels []Channel `json:"channels"`
}

// Channel is the metrics of one channel.
type Channel struct {
	Channel string `json:"channel"`
	// Deployments in the window, and per week of the window.
	Deployments        int     `json:"deployments"`
	DeploymentsPerWeek float64 `json:"deploymentsPerWeek"`
	// Promotions are the deployments made by the promoter (the others
	// were people's edits).
	Promotions int `json:"promotions"`
	// RollOffs are the recalls' roll-backs in the window (not deployments).
	RollOffs int `json:"rollOffs"`
	// LeadTime is the lead time for changes.
	LeadTime Durations `json:"leadTime"`
	// ChangeFailure is the change failure rate.
	ChangeFailure Failures `json:"changeFailure"`
	// TimeToRestore is the time to restore.
	TimeToRestore Durations `json:"timeToRestore"`
}

// Durations summarise measured durations; Median and P90 are nil when
// nothing was measured.
type Durations struct {
	Count         int    `json:"count"`
	MedianSeconds *int64 `json:"medianSeconds"`
	P90Seconds    *int64 `json:"p90Seconds"`
}

// Median returns the median, false when nothing was measured.
func (d Durations) Median() (time.Duration, bool) { return seconds(d.MedianSeconds) }

// P90 returns the 90th percentile, false when nothing was measured.
func (d Durations) P90() (time.Duration, bool) { return seconds(d.P90Seconds) }

func seconds(s *int64) (time.Duration, bool) {
	if s == nil {
		return 0, false
	}
	return time.Duration(*s) * time.Second, true
}

// Failures is the change failure rate: Failed of Releases; Rate is nil when
// no release was deployed.
type Failures struct {
	Releases int      `json:"releases"`
	Failed   int      `json:"failed"`
	Rate     *float64 `json:"rate"`
	// Recalled names the failed releases ("<product> <version>" in the
	// fleet's metrics), sorted.
	Recalled []string `json:"recalled"`
}

// Compute returns the metrics of h.
func Compute(h History, opts Options) (Report, error) {
	if opts.Window <= 0 {
		return Report{}, fmt.Errorf("window %s: want a positive duration", opts.Window)
	}
	since := h.HeadTime.Add(-opts.Window)
	in := func(t time.Time) bool { return t.After(since) && !t.After(h.HeadTime) }

	channels := slices.Clone(h.Channels)
	extra := map[string]bool{}
	products := map[string]bool{}
	for _, p := range h.Products {
		products[p] = true
	}
	for _, c := range h.Changes {
		if in(c.Time) {
			products[c.Product] = true
			if !slices.Contains(channels, c.Channel) {
				extra[c.Channel] = true
			}
		}
	}
	for _, c := range sortedKeys(extra) {
		channels = append(channels, c)
	}
	headline := opts.Channel
	if headline == "" {
		if len(h.Channels) == 0 {
			return Report{}, fmt.Errorf("fleet.yaml declares no channels: name the headline channel")
		}
		headline = h.Channels[len(h.Channels)-1]
	}
	if !slices.Contains(channels, headline) {
		return Report{}, fmt.Errorf("channel %q is neither in fleet.yaml spec.channels (%v) nor changed in the window", headline, h.Channels)
	}

	added := map[key]Release{}
	for _, r := range h.Releases {
		k := key{r.Product, r.Version}
		if old, ok := added[k]; !ok || r.Time.Before(old.Time) {
			added[k] = r
		}
	}
	changes := slices.Clone(h.Changes)
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Seq < changes[j].Seq })

	r := Report{
		Revision:      h.Head,
		Since:         since.UTC(),
		Until:         h.HeadTime.UTC(),
		WindowSeconds: int64(opts.Window / time.Second),
		Channel:       headline,
		Channels:      channels,
		Fleet:         Product{Channels: make([]Channel, 0, len(channels))},
	}
	weeks := opts.Window.Hours() / (7 * 24)
	fleet := make([]sample, len(channels))
	for _, name := range sortedKeys(products) {
		p := Product{Product: name, Channels: make([]Channel, 0, len(channels))}
		for i, ch := range channels {
			s := measure(name, ch, changes, h.Recalls, added, in)
			fleet[i].add(s, name+" ")
			p.Channels = append(p.Channels, s.summary(ch, weeks))
		}
		r.Products = append(r.Products, p)
	}
	for i, ch := range channels {
		r.Fleet.Channels = append(r.Fleet.Channels, fleet[i].summary(ch, weeks))
	}
	return r, nil
}

type key struct{ product, version string }

// sample is what was measured of one product (or several) on one channel.
type sample struct {
	deployments, rollOffs int
	promotions            int
	leadTimes, restores   []time.Duration
	releases              int
	recalled              []string
}

// add pools s into a, naming its recalled releases with prefix.
func (a *sample) add(s sample, prefix string) {
	a.deployments += s.deployments
	a.promotions += s.promotions
	a.rollOffs += s.rollOffs
	a.leadTimes = append(a.leadTimes, s.leadTimes...)
	a.restores = append(a.restores, s.restores...)
	a.releases += s.releases
	for _, v := range s.recalled {
		a.recalled = append(a.recalled, prefix+v)
	}
}

// measure takes the events of product on channel: changes sorted by Seq.
func measure(product, channel string, changes []Change, recalls []Recall, added map[key]Release, in func(time.Time) bool) sample {
	var (
		s        sample
		arrival  = map[string]Change{} // first change that put each version on the channel
		firstWin = map[string]Change{} // first deployment of each version in the window
		mine     []Change
	)
	for _, c := range changes {
		if c.Product != product || c.Channel != channel || c.From == c.To {
			continue
		}
		mine = append(mine, c)
		if _, ok := arrival[c.To]; !ok && c.To != "" {
			arrival[c.To] = c
		}
		if !in(c.Time) || c.Baseline {
			continue
		}
		switch {
		case c.RollOff:
			s.rollOffs++
		case c.To != "": // else the channel dropped: nothing deployed
			s.deployments++
			if c.Promoted {
				s.promotions++
			}
			if _, ok := firstWin[c.To]; !ok {
				firstWin[c.To] = c
			}
		}
	}
	// Lead time: releases whose first arrival on the channel is a
	// deployment in the window.
	for v, c := range arrival {
		rel, ok := added[key{product, v}]
		if !ok || !in(c.Time) || c.Baseline || c.RollOff {
			continue
		}
		s.leadTimes = append(s.leadTimes, max(c.Time.Sub(rel.Time), 0))
	}
	// Change failure: releases deployed in the window, recalled after.
	s.releases = len(firstWin)
	for v, c := range firstWin {
		if slices.ContainsFunc(recalls, func(r Recall) bool {
			return r.Product == product && r.Version == v && r.Seq > c.Seq
		}) {
			s.recalled = append(s.recalled, v)
		}
	}
	// Time to restore: recalls in the window of the version the channel
	// carried just before, since a deployment the history recorded.
	for _, rc := range recalls {
		if rc.Product != product || !in(rc.Time) {
			continue
		}
		var last *Change
		for i := range mine {
			if mine[i].Seq >= rc.Seq {
				break
			}
			last = &mine[i]
		}
		if last != nil && last.To == rc.Version && !last.Baseline {
			s.restores = append(s.restores, max(rc.Time.Sub(last.Time), 0))
		}
	}
	return s
}

// summary turns s into the metrics of channel over a window of weeks.
func (s sample) summary(channel string, weeks float64) Channel {
	c := Channel{
		Channel:            channel,
		Deployments:        s.deployments,
		Promotions:         s.promotions,
		DeploymentsPerWeek: math.Round(float64(s.deployments)/weeks*100) / 100,
		RollOffs:           s.rollOffs,
		LeadTime:           summarise(s.leadTimes),
		TimeToRestore:      summarise(s.restores),
		ChangeFailure:      Failures{Releases: s.releases, Failed: len(s.recalled), Recalled: slices.Sorted(slices.Values(s.recalled))},
	}
	if c.ChangeFailure.Recalled == nil {
		c.ChangeFailure.Recalled = []string{}
	}
	if s.releases > 0 {
		rate := math.Round(float64(len(s.recalled))/float64(s.releases)*1000) / 1000
		c.ChangeFailure.Rate = &rate
	}
	return c
}

// summarise returns the count, median and 90th percentile of ds.
func summarise(ds []time.Duration) Durations {
	out := Durations{Count: len(ds)}
	if len(ds) == 0 {
		return out
	}
	sorted := slices.Sorted(slices.Values(ds))
	med := int64(Percentile(sorted, 50) / time.Second)
	p90 := int64(Percentile(sorted, 90) / time.Second)
	out.MedianSeconds, out.P90Seconds = &med, &p90
	return out
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, which is sorted ascending and not empty: the value at rank
// ceil(p/100 × n).
func Percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
