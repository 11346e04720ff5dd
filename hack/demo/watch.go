package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// product is what the demo shows of one product at one site.
type product struct {
	Version, Health, Note string
}

// siteView is a site's products as its status report gives them, by name.
type siteView map[string]product

// fleetView is what the demo watches in the fleet repo: every branch's head
// but the status branches, and each site's report.
type fleetView struct {
	// Branches maps a branch name to its head commit.
	Branches map[string]string
	// Sites maps a site to its report; a site without a report is absent.
	Sites map[string]siteView
}

// reportChanges says in one line each what changed between two views of the
// sites' reports, sites and products in name order.
func reportChanges(prev, next map[string]siteView) []string {
	var out []string
	for _, site := range sortedKeys(next) {
		old, seen := prev[site]
		if !seen {
			out = append(out, fmt.Sprintf("%s: first status report", site))
		}
		cur := next[site]
		for _, name := range sortedKeys(cur) {
			p, was := old[name]
			n := cur[name]
			switch {
			case !was:
				out = append(out, fmt.Sprintf("%s: %s %s %s%s", site, name, orNone(n.Version), n.Health, noteSuffix(n.Note)))
			case p.Version != n.Version:
				out = append(out, fmt.Sprintf("%s: %s %s → %s %s%s", site, name, orNone(p.Version), orNone(n.Version), n.Health, noteSuffix(n.Note)))
			case p.Health != n.Health:
				out = append(out, fmt.Sprintf("%s: %s %s %s → %s%s", site, name, orNone(n.Version), p.Health, n.Health, noteSuffix(n.Note)))
			case p.Note != n.Note && n.Note != "":
				out = append(out, fmt.Sprintf("%s: %s %s %s%s", site, name, orNone(n.Version), n.Health, noteSuffix(n.Note)))
			}
		}
		for _, name := range sortedKeys(old) {
			if _, ok := cur[name]; !ok {
				out = append(out, fmt.Sprintf("%s: %s removed", site, name))
			}
		}
	}
	for _, site := range sortedKeys(prev) {
		if _, ok := next[site]; !ok {
			out = append(out, fmt.Sprintf("%s: status report gone", site))
		}
	}
	return out
}

// branchChanges names the branches created, moved or deleted between two
// views, except the main branch, whose commits are shown instead.
func branchChanges(prev, next map[string]string, mainBranch string) []string {
	var out []string
	for _, b := range sortedKeys(next) {
		if b == mainBranch {
			continue
		}
		switch old, ok := prev[b]; {
		case !ok:
			out = append(out, fmt.Sprintf("branch %s created at %s%s", b, short(next[b]), branchHint(b)))
		case old != next[b]:
			out = append(out, fmt.Sprintf("branch %s moved to %s", b, short(next[b])))
		}
	}
	for _, b := range sortedKeys(prev) {
		if _, ok := next[b]; !ok && b != mainBranch {
			out = append(out, fmt.Sprintf("branch %s deleted", b))
		}
	}
	return out
}

func branchHint(b string) string {
	if strings.HasPrefix(b, "promote/") {
		return " (a promotion waiting for a person to merge it: approval: pull-request)"
	}
	return ""
}

// siteViewOf is the part of a report the demo shows.
func siteViewOf(r *status.Report) siteView {
	v := siteView{}
	for _, p := range r.Products {
		v[p.Name] = product{Version: p.Version, Health: string(p.Health), Note: p.Note}
	}
	return v
}

// readFleet reads the branches and the status reports of the bare
// repository gitDir (the demo owns the Git server, so it reads its disk).
// Reports are parsed again only when their branch moved: cache holds the
// last parse by commit. With trust, a report is read only when signed by its
// site's key, as the promoter reads them. A report that cannot be read is
// named in errs.
func readFleet(gitDir string, cache map[string]siteView, trust *trust) (v fleetView, errs []string, err error) {
	out, err := testenv.RunGit(gitDir, nil, "for-each-ref", "--format=%(objectname) %(refname:lstrip=2)", "refs/heads/")
	if err != nil {
		return v, nil, err
	}
	v = fleetView{Branches: map[string]string{}, Sites: map[string]siteView{}}
	for _, line := range strings.Split(out, "\n") {
		commit, branch, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		site, isStatus := strings.CutPrefix(branch, status.Branch(""))
		if !isStatus {
			v.Branches[branch] = commit
			continue
		}
		if sv, ok := cache[commit]; ok {
			v.Sites[site] = sv
			continue
		}
		if trust != nil {
			if err := trust.checkReport(gitDir, site, commit); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", site, err))
				continue
			}
		}
		data, err := testenv.RunGit(gitDir, nil, "cat-file", "blob", commit+":"+status.ReportFile)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: cannot read %s: %v", site, status.ReportFile, err))
			continue
		}
		r, err := status.ParseReport([]byte(data))
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", site, err))
			continue
		}
		cache[commit] = siteViewOf(r)
		v.Sites[site] = cache[commit]
	}
	return v, errs, nil
}

// newCommits lists the commits on branch between from (exclusive; "" for
// none) and to, oldest first, one line each.
func newCommits(gitDir, from, to string) ([]string, error) {
	rng := to
	if from != "" {
		rng = from + ".." + to
	}
	out, err := testenv.RunGit(gitDir, nil, "log", "--reverse", "--format=%h %s (by %an)", rng)
	if err != nil || out == "" {
		return nil, err
	}
	return strings.Split(out, "\n"), nil
}

func orNone(v string) string {
	if v == "" {
		return "<none>"
	}
	return v
}

func noteSuffix(note string) string {
	if note == "" {
		return ""
	}
	return " — " + strings.Join(strings.Fields(note), " ")
}

func short(commit string) string {
	if len(commit) > 7 {
		return commit[:7]
	}
	return commit
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
