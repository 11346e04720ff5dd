package status

import (
	"context"
	"fmt"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"
)

// memReports is a SignedReportSource in memory: branch heads, and the
// report of each commit; it counts the reports read.
type memReports struct {
	heads map[string]string // branch -> commit
	data  map[string][]byte // commit -> report
	reads int
}

func (m *memReports) FetchBranches(context.Context, string) (map[string]string, error) {
	return m.heads, nil
}

func (m *memReports) ReadFileAt(_ context.Context, sha, _ string) ([]byte, error) {
	m.reads++
	d, ok := m.data[sha]
	if !ok {
		return nil, fmt.Errorf("no commit %s", sha)
	}
	return d, nil
}

func (m *memReports) CommitObject(context.Context, string) (*object.Commit, error) {
	return &object.Commit{}, nil // unsigned
}

// push makes sha the head of site's branch, holding a report of site at
// revision rev.
func (m *memReports) push(t *testing.T, site, sha, rev string) {
	t.Helper()
	st := sampleStatus(t1)
	st.Site, st.Revision = site, rev
	data, err := NewReport(st).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m.heads[Branch(site)], m.data[sha] = sha, data
}

func TestReportCacheRereadsOnlyWhatMoved(t *testing.T) {
	ctx := context.Background()
	src := &memReports{heads: map[string]string{}, data: map[string][]byte{}}
	src.push(t, "eu-1", "c1", "r1")
	src.push(t, "us-1", "c2", "r1")
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDlMZJrHGUVEEcjrbMD0DtJiwkrxAyiF7MIchRJJO6pE"))
	if err != nil {
		t.Fatal(err)
	}
	unsignedTrust := &ReportTrust{Keys: map[string]ssh.PublicKey{}}
	cache := NewReportCache()

	steps := []struct {
		name       string
		edit       func()
		trust      *ReportTrust
		reads      int
		revs       map[string]string // site -> revision of the report read
		unreadable []string
	}{
		{name: "first read", reads: 2, revs: map[string]string{"eu-1": "r1", "us-1": "r1"}},
		{name: "nothing moved", reads: 0, revs: map[string]string{"eu-1": "r1", "us-1": "r1"}},
		{name: "eu-1 moved", edit: func() { src.push(t, "eu-1", "c3", "r2") }, reads: 1, revs: map[string]string{"eu-1": "r2", "us-1": "r1"}},
		{name: "us-1 now declares a key: read again, and refused unsigned",
			trust: &ReportTrust{Keys: map[string]ssh.PublicKey{"us-1": key}}, reads: 0,
			revs: map[string]string{"eu-1": "r2"}, unreadable: []string{"us-1"}},
		{name: "us-1's branch deleted", edit: func() { delete(src.heads, Branch("us-1")) }, reads: 0, revs: map[string]string{"eu-1": "r2"}},
	}
	for _, s := range steps {
		if s.edit != nil {
			s.edit()
		}
		trust := unsignedTrust
		if s.trust != nil {
			trust = s.trust
		}
		before := src.reads
		reports, unreadable, _, err := cache.ReadSignedReports(ctx, src, trust)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if n := src.reads - before; n != s.reads {
			t.Errorf("%s: %d reports read, want %d", s.name, n, s.reads)
		}
		if len(reports) != len(s.revs) {
			t.Errorf("%s: %d reports, want %d", s.name, len(reports), len(s.revs))
		}
		for site, rev := range s.revs {
			if r := reports[site]; r == nil || r.Revision != rev {
				t.Errorf("%s: report of %s = %+v, want revision %s", s.name, site, r, rev)
			}
		}
		if len(unreadable) != len(s.unreadable) {
			t.Errorf("%s: unreadable %v, want %v", s.name, unreadable, s.unreadable)
		}
		for _, site := range s.unreadable {
			if unreadable[site] == nil {
				t.Errorf("%s: %s not unreadable (%v)", s.name, site, unreadable)
			}
		}
	}
	if _, ok := cache.entries["us-1"]; ok {
		t.Error("the cache keeps the report of a deleted branch")
	}
}

func TestNilReportCacheReadsEverything(t *testing.T) {
	src := &memReports{heads: map[string]string{}, data: map[string][]byte{}}
	src.push(t, "eu-1", "c1", "r1")
	var cache *ReportCache
	for range 2 {
		if _, _, err := cache.ReadReports(context.Background(), src); err != nil {
			t.Fatal(err)
		}
	}
	if src.reads != 2 {
		t.Errorf("a nil cache read %d reports in two readings, want 2", src.reads)
	}
}
