package promote

import (
	"slices"
	"strings"
	"testing"
)

func TestParseSubject(t *testing.T) {
	cases := []struct {
		msg  string
		want Subject
		ok   bool
	}{
		{"promote web 1.2.0: staging -> prod\n\nSyncd-Stage: staging -> prod\n", Subject{Decision: Promote, Product: "web", Version: "1.2.0", From: "staging", To: "prod"}, true},
		{"promote web 1.2.0: staging -> prod\r\n", Subject{Decision: Promote, Product: "web", Version: "1.2.0", From: "staging", To: "prod"}, true},
		{"recall web 1.2.0: dev, prod, staging\n\nSyncd-Reason: x", Subject{Decision: Recall, Product: "web", Version: "1.2.0", Channels: []string{"dev", "prod", "staging"}}, true},
		{"recall web 1.2.0: dev", Subject{Decision: Recall, Product: "web", Version: "1.2.0", Channels: []string{"dev"}}, true},
		{"recall web 1.2.0: ", Subject{Decision: Recall, Product: "web", Version: "1.2.0"}, true},
		{"bump web to 1.2.0", Subject{}, false},
		{"promote web 1.2.0 staging -> prod", Subject{}, false},
		{"promote web: staging -> prod", Subject{}, false},
		{"promote web 1.2.0: staging to prod", Subject{}, false},
		{"promote web 1.2.0: staging -> prod -> more", Subject{}, false},
		{"promote  web 1.2.0: staging -> prod", Subject{}, false},
		{"Promote web 1.2.0: staging -> prod", Subject{}, false},
		{"recall web 1.2.0: dev,prod", Subject{}, false},
		{"recall web 1.2.0", Subject{}, false},
		{"", Subject{}, false},
	}
	for _, tc := range cases {
		got, ok := ParseSubject(tc.msg)
		if ok != tc.ok || got.String() != tc.want.String() || !slices.Equal(got.Channels, tc.want.Channels) {
			t.Errorf("ParseSubject(%q) = %+v, %v; want %+v, %v", tc.msg, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParseSubject reads any commit message (people write most of them):
// what it accepts is exactly the subject the promoter writes, and its
// parse survives a round trip.
func FuzzParseSubject(f *testing.F) {
	for _, s := range []string{
		"promote web 1.2.0: staging -> prod\n\nSyncd-Stage: staging -> prod",
		"recall web 1.2.0: dev, prod, staging", "recall web 1.2.0: ", "Merge pull request #4", "promote a b: c -> d -> e",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		s, ok := ParseSubject(msg)
		if !ok {
			return
		}
		line, _, _ := strings.Cut(msg, "\n")
		if got := s.String(); got != strings.TrimSuffix(line, "\r") {
			t.Fatalf("ParseSubject(%q) = %+v, written back as %q", msg, s, got)
		}
		again, ok := ParseSubject(s.String())
		if !ok || again.String() != s.String() || !slices.Equal(again.Channels, s.Channels) {
			t.Fatalf("ParseSubject(%q) = %+v, reparsed as %+v, %v", msg, s, again, ok)
		}
	})
}
