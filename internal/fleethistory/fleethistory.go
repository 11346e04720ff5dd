// Package fleethistory reads the events of a fleet repo's history that the
// DORA metrics (package dora) are computed from: when each release was
// added, how each channel's version changed, and when releases were
// recalled.
//
// It walks every commit reachable from the head once. Releases are dated by
// the earliest commit of any branch that contains their directory (the
// release's own commit, not the merge that brought it to the tracked
// branch); channel changes and recalls are read along the first-parent
// history of the head, which is what the sites that track the branch saw.
// Directories and files are compared by Git object id, so a commit that
// changes neither channels/ nor products/ costs one tree read, and a file
// is parsed once per content.
package fleethistory

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/syncd-dev/syncd/internal/dora"
	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/promote"
)

// Walk calls fn with every commit reachable from the head, the head first
// and each commit before its parents (gitsource Source.Walk or Local.Walk
// bound to a revision).
type Walk func(ctx context.Context, fn func(gitsource.WalkCommit) error) error

// Files is the tree of one commit (a gitsource.Snapshot).
type Files interface {
	fs.ReadDirFS
	fs.ReadFileFS
	// ObjectID is the Git object id of name, fs.ErrNotExist when missing.
	ObjectID(name string) (string, error)
}

// Options tune Read.
type Options struct {
	// Progress, when set, is called with the number of commits read so
	// far, every ProgressEvery commits.
	Progress func(commits int)
}

// ProgressEvery is how many commits are read between Progress calls.
const ProgressEvery = 1000

// Layout of the fleet repo (SPEC §2).
const (
	fleetFile   = "fleet.yaml"
	channelsDir = "channels"
	productsDir = "products"
	releasesDir = "releases"
	releaseFile = "release.yaml"
)

// History is the events read, and how many commits were walked.
type History struct {
	dora.History
	// Commits is the number of commits walked.
	Commits int
}

// Read walks the history and returns its events.
func Read(ctx context.Context, walk Walk, opts Options) (History, error) {
	r := &reader{
		channelDirs: map[string]map[string]string{},
		channelFile: map[string]channelsFile{},
		productDirs: map[string]map[string]string{},
		releaseDirs: map[string]map[string]bool{},
		recalledOf:  map[string]bool{},
		commits:     map[string]commitState{},
		earliest:    map[string]gitsource.WalkCommit{},
	}
	var out History
	err := walk(ctx, func(c gitsource.WalkCommit) error {
		if out.Commits == 0 {
			out.Head, out.HeadTime = c.SHA, c.Time
			if c.Files != nil {
				if err := r.head(c.Files, &out.History); err != nil {
					return err
				}
			}
		}
		out.Commits++
		if opts.Progress != nil && out.Commits%ProgressEvery == 0 {
			opts.Progress(out.Commits)
		}
		return r.commit(c)
	})
	if err != nil {
		return History{}, err
	}
	if out.Commits == 0 {
		return History{}, errors.New("the history has no commits")
	}
	out.Releases = r.releases()
	out.Changes, out.Recalls = r.timeline(out.Head)
	return out, nil
}

// channelsFile is one content of channels/<product>.yaml: channel ->
// version, ok false when it does not parse.
type channelsFile struct {
	spec map[string]string
	ok   bool
}

// commitState is what a commit holds, by object id ("" when missing).
type commitState struct {
	firstParent string
	// promotions are the promoter's subjects of the commit and, for a
	// merge, of its other parents (the head of a pull-request branch).
	promotions []promote.Subject
	// subject is the commit's promotion subject, if it is one.
	subject  *promote.Subject
	parents  []string
	time     time.Time
	channels string // channels/
	products string // products/
}

// reader keeps what the walk read, by object id.
type reader struct {
	channelDirs map[string]map[string]string // channels/ id -> product -> file id
	channelFile map[string]channelsFile      // file id -> content
	productDirs map[string]map[string]string // products/ id -> product -> releases/ id
	releaseDirs map[string]map[string]bool   // releases/ id -> version -> recalled
	recalledOf  map[string]bool              // release.yaml id -> recalled
	commits     map[string]commitState
	// earliest is, per products/ id, the earliest commit holding it.
	earliest map[string]gitsource.WalkCommit
}

// head reads fleet.yaml's channels and the products at the head.
func (r *reader) head(files Files, h *dora.History) error {
	if data, err := files.ReadFile(fleetFile); err == nil {
		var doc struct {
			Spec struct {
				Channels []string `yaml:"channels"`
			} `yaml:"spec"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("%s at the head: %w", fleetFile, err)
		}
		h.Channels = doc.Spec.Channels
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	products := map[string]bool{}
	for _, dir := range []string{channelsDir, productsDir} {
		entries, err := files.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for _, e := range entries {
			switch {
			case dir == channelsDir && !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml"):
				products[strings.TrimSuffix(e.Name(), ".yaml")] = true
			case dir == productsDir && e.IsDir():
				products[e.Name()] = true
			}
		}
	}
	h.Products = slices.Sorted(func(yield func(string) bool) {
		for p := range products {
			if !yield(p) {
				return
			}
		}
	})
	return nil
}

// commit reads one commit's channels/ and products/.
func (r *reader) commit(c gitsource.WalkCommit) error {
	st := commitState{time: c.Time, parents: c.Parents}
	if len(c.Parents) > 0 {
		st.firstParent = c.Parents[0]
	}
	if sub, ok := promote.ParseSubject(c.Message); ok && sub.Decision == promote.Promote {
		st.subject = &sub
	}
	if c.Files != nil {
		var err error
		if st.channels, err = r.readChannels(c.Files); err != nil {
			return fmt.Errorf("commit %s: %w", c.SHA, err)
		}
		if st.products, err = r.readProducts(c.Files); err != nil {
			return fmt.Errorf("commit %s: %w", c.SHA, err)
		}
	}
	if st.products != "" {
		if e, ok := r.earliest[st.products]; !ok || c.Time.Before(e.Time) {
			r.earliest[st.products] = gitsource.WalkCommit{SHA: c.SHA, Time: c.Time}
		}
	}
	r.commits[c.SHA] = st
	return nil
}

// objectID is the id of name, "" when it is missing.
func objectID(files Files, name string) (string, error) {
	id, err := files.ObjectID(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return id, err
}

// readChannels reads channels/ unless its id was read before.
func (r *reader) readChannels(files Files) (string, error) {
	id, err := objectID(files, channelsDir)
	if err != nil || id == "" {
		return "", err
	}
	if _, ok := r.channelDirs[id]; ok {
		return id, nil
	}
	entries, err := files.ReadDir(channelsDir)
	if err != nil {
		return "", nil // channels is not a directory: no channels
	}
	dir := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".yaml") {
			continue
		}
		file := path.Join(channelsDir, name)
		fid, err := objectID(files, file)
		if err != nil {
			return "", err
		}
		if _, ok := r.channelFile[fid]; !ok {
			data, err := files.ReadFile(file)
			if err != nil {
				// A dangling symlink, say: a file that tells nothing.
				r.channelFile[fid] = channelsFile{}
			} else {
				spec, ok := ParseChannels(data)
				r.channelFile[fid] = channelsFile{spec: spec, ok: ok}
			}
		}
		dir[strings.TrimSuffix(name, ".yaml")] = fid
	}
	r.channelDirs[id] = dir
	return id, nil
}

// readProducts reads products/*/releases/ unless their ids were read before.
func (r *reader) readProducts(files Files) (string, error) {
	id, err := objectID(files, productsDir)
	if err != nil || id == "" {
		return "", err
	}
	if _, ok := r.productDirs[id]; ok {
		return id, nil
	}
	entries, err := files.ReadDir(productsDir)
	if err != nil {
		return "", nil // products is not a directory: no products
	}
	dir := map[string]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		rels := path.Join(productsDir, e.Name(), releasesDir)
		rid, err := objectID(files, rels)
		if err != nil || rid == "" {
			if err != nil {
				return "", err
			}
			continue
		}
		dir[e.Name()] = rid
		if _, ok := r.releaseDirs[rid]; ok {
			continue
		}
		versions := map[string]bool{}
		list, err := files.ReadDir(rels)
		if err != nil {
			r.releaseDirs[rid] = versions
			continue
		}
		for _, v := range list {
			if !v.IsDir() {
				continue
			}
			versions[v.Name()], err = r.recalled(files, path.Join(rels, v.Name(), releaseFile))
			if err != nil {
				return "", err
			}
		}
		r.releaseDirs[rid] = versions
	}
	r.productDirs[id] = dir
	return id, nil
}

// recalled reads whether the release.yaml at name marks its release
// recalled (false when it is missing or does not parse).
func (r *reader) recalled(files Files, name string) (bool, error) {
	id, err := objectID(files, name)
	if err != nil || id == "" {
		return false, err
	}
	if v, ok := r.recalledOf[id]; ok {
		return v, nil
	}
	data, err := files.ReadFile(name)
	v := err == nil && ParseRecalled(data)
	r.recalledOf[id] = v
	return v, nil
}

// ParseChannels reads the channel -> version map of a channels file
// leniently (an old revision that no longer decodes strictly still tells
// its versions); ok is false when the file does not parse at all.
func ParseChannels(data []byte) (spec map[string]string, ok bool) {
	var doc struct {
		Spec map[string]string `yaml:"spec"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, false
	}
	return doc.Spec, true
}

// ParseRecalled reads release.yaml spec.recalled leniently: false when it
// does not parse.
func ParseRecalled(data []byte) bool {
	var doc struct {
		Spec struct {
			Recalled bool `yaml:"recalled"`
		} `yaml:"spec"`
	}
	return yaml.Unmarshal(data, &doc) == nil && doc.Spec.Recalled
}

// releases dates every release by the earliest commit holding it.
func (r *reader) releases() []dora.Release {
	first := map[[2]string]dora.Release{}
	for id, c := range r.earliest {
		for product, rid := range r.productDirs[id] {
			for version := range r.releaseDirs[rid] {
				k := [2]string{product, version}
				if old, ok := first[k]; !ok || c.Time.Before(old.Time) || c.Time.Equal(old.Time) && c.SHA < old.Commit {
					first[k] = dora.Release{Product: product, Version: version, Time: c.Time, Commit: c.SHA}
				}
			}
		}
	}
	out := make([]dora.Release, 0, len(first))
	for _, rel := range first {
		out = append(out, rel)
	}
	slices.SortFunc(out, func(a, b dora.Release) int {
		return strings.Compare(a.Product+"\x00"+a.Version, b.Product+"\x00"+b.Version)
	})
	return out
}

// timeline compares each first-parent commit of head with the one before
// it, oldest first. The oldest commit is the baseline: what it holds was
// deployed (or recalled) before the history recorded it, typically by an
// import: its versions are Baseline changes, its recalls no events.
func (r *reader) timeline(head string) ([]dora.Change, []dora.Recall) {
	var chain []string
	for sha := head; sha != ""; {
		st, ok := r.commits[sha]
		if !ok {
			break // beyond a shallow clone's end
		}
		chain = append(chain, sha)
		sha = st.firstParent
	}
	slices.Reverse(chain)
	var (
		changes []dora.Change
		recalls []dora.Recall
		prev    commitState
		// carried is each product's channels as last parsed: a revision
		// that does not parse changes nothing.
		carried = map[string]map[string]string{}
	)
	for seq, sha := range chain {
		st := r.commits[sha]
		if seq == 0 || st.channels != prev.channels {
			for _, product := range unionKeys(r.channelDirs[prev.channels], r.channelDirs[st.channels]) {
				old, now := carried[product], map[string]string(nil)
				if fid, ok := r.channelDirs[st.channels][product]; ok {
					f := r.channelFile[fid]
					if !f.ok {
						continue
					}
					now = f.spec
				}
				for _, ch := range unionKeys(old, now) {
					if old[ch] == now[ch] {
						continue
					}
					changes = append(changes, dora.Change{
						Seq: seq, Product: product, Channel: ch, From: old[ch], To: now[ch],
						RollOff:  old[ch] != "" && r.isRecalled(st.products, product, old[ch]),
						Baseline: seq == 0,
						Promoted: r.promoted(sha, product, now[ch], ch),
						Time:     st.time, Commit: sha,
					})
				}
				carried[product] = now
			}
		}
		if seq == 0 || st.products != prev.products {
			before, after := r.productDirs[prev.products], r.productDirs[st.products]
			for _, product := range unionKeys(before, after) {
				if before[product] == after[product] {
					continue
				}
				was, is := r.releaseDirs[before[product]], r.releaseDirs[after[product]]
				for _, v := range unionKeys(was, is) {
					if is[v] && !was[v] && seq > 0 {
						recalls = append(recalls, dora.Recall{Seq: seq, Product: product, Version: v, Time: st.time, Commit: sha})
					}
				}
			}
		}
		prev = st
	}
	return changes, recalls
}

// promoted reports whether commit sha, or the head of a branch it merges,
// is the promoter's commit putting product's version on channel.
func (r *reader) promoted(sha, product, version, channel string) bool {
	st := r.commits[sha]
	candidates := []*promote.Subject{st.subject}
	for _, p := range st.parents[min(1, len(st.parents)):] {
		candidates = append(candidates, r.commits[p].subject)
	}
	for _, s := range candidates {
		if s != nil && s.Product == product && s.Version == version && s.To == channel {
			return true
		}
	}
	return false
}

// isRecalled reports whether the products/ tree id marks product's
// release version recalled.
func (r *reader) isRecalled(products, product, version string) bool {
	return r.releaseDirs[r.productDirs[products][product]][version]
}

// unionKeys returns the keys of a and b, sorted.
func unionKeys[A, B any](a map[string]A, b map[string]B) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
