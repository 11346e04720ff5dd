package promote

import (
	"fmt"
	"strings"
)

// Subject is what the first line of a promotion or recall commit says
// (SPEC §5): `promote <product> <version>: <from> -> <to>` or
// `recall <product> <version>: <channel>, <channel>…`.
type Subject struct {
	// Decision is Promote or Recall.
	Decision Kind
	Product  string
	Version  string
	// From and To are the stage of a promotion.
	From, To string
	// Channels are those a recall moved back, as the message lists them.
	Channels []string
}

// String is the commit subject.
func (s Subject) String() string {
	if s.Decision == Recall {
		return fmt.Sprintf("recall %s %s: %s", s.Product, s.Version, strings.Join(s.Channels, ", "))
	}
	return fmt.Sprintf("promote %s %s: %s -> %s", s.Product, s.Version, s.From, s.To)
}

// ParseSubject reads the first line of a commit message written by the
// promoter; ok is false for any other message. It accepts exactly what
// Subject.String writes for names without spaces, commas or colons.
func ParseSubject(message string) (s Subject, ok bool) {
	line, _, _ := strings.Cut(message, "\n")
	line = strings.TrimSuffix(line, "\r")
	verb, rest, _ := strings.Cut(line, " ")
	head, tail, found := strings.Cut(rest, ": ")
	if !found {
		return Subject{}, false
	}
	product, version, _ := strings.Cut(head, " ")
	if !word(product) || !word(version) {
		return Subject{}, false
	}
	s = Subject{Product: product, Version: version}
	switch verb {
	case "promote":
		from, to, _ := strings.Cut(tail, " -> ")
		if !word(from) || !word(to) {
			return Subject{}, false
		}
		s.Decision, s.From, s.To = Promote, from, to
	case "recall":
		s.Decision = Recall
		if tail != "" {
			s.Channels = strings.Split(tail, ", ")
		}
		for _, ch := range s.Channels {
			if !word(ch) {
				return Subject{}, false
			}
		}
	default:
		return Subject{}, false
	}
	return s, true
}

// word reports whether s is a non-empty name without spaces, commas or
// colons (or anything else a subject's fields are split on).
func word(s string) bool {
	return s != "" && !strings.ContainsAny(s, " ,:\t\r\n") && !strings.Contains(s, "->")
}
