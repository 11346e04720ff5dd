package gitsource

import (
	"context"
	"testing"
)

func TestFileHistory(t *testing.T) {
	f := newFixture(t, map[string]string{"fleet.yaml": "a", "channels/web.yaml": "v1"})
	first := f.remote("rev-parse", "main")
	f.push("main", "unrelated", map[string]string{"fleet.yaml": "b"})
	second := f.push("main", "bump", map[string]string{"channels/web.yaml": "v2"})
	f.push("main", "unrelated again", map[string]string{"fleet.yaml": "c"})
	third := f.push("main", "back", map[string]string{"channels/web.yaml": "v1"})
	head := f.push("main", "unrelated once more", map[string]string{"fleet.yaml": "d"})

	s := f.source(nil)
	ctx := context.Background()
	if _, _, err := s.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.FileHistory(ctx, head, "channels/web.yaml", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ commit, data string }{{third, "v1"}, {second, "v2"}, {first, "v1"}}
	if len(got) != len(want) {
		t.Fatalf("history has %d versions, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Commit != w.commit || string(got[i].Data) != w.data || got[i].Time.IsZero() {
			t.Errorf("version %d = %s %q at %v, want %s %q", i, got[i].Commit, got[i].Data, got[i].Time, w.commit, w.data)
		}
	}

	// A bounded walk ends with the oldest version it reached, dated by the
	// oldest commit it walked.
	got, err = s.FileHistory(ctx, head, "channels/web.yaml", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Commit != third || string(got[0].Data) != "v1" {
		t.Fatalf("bounded history = %+v, want the head's version from the oldest commit walked", got)
	}

	// A deleted file has no history at the head; a missing one neither.
	del := f.push("main", "drop", map[string]string{"channels/web.yaml": ""})
	if _, _, err := s.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"channels/web.yaml", "channels/none.yaml", "channels"} {
		got, err := s.FileHistory(ctx, del, name, 0)
		if err != nil || len(got) != 0 {
			t.Errorf("FileHistory(%s) = %+v, %v; want none", name, got, err)
		}
	}
	readd := f.push("main", "again", map[string]string{"channels/web.yaml": "v3"})
	if _, _, err := s.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	got, err = s.FileHistory(ctx, readd, "channels/web.yaml", 0)
	if err != nil || len(got) != 1 || got[0].Commit != readd {
		t.Fatalf("history after re-adding = %+v, %v; want only the re-adding commit", got, err)
	}
}
