package fleetdiff

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Output formats of a Report.
const (
	FormatTable    = "table"
	FormatMarkdown = "markdown"
	FormatJSON     = "json"
)

// Formats lists the output formats Write accepts.
var Formats = []string{FormatTable, FormatMarkdown, FormatJSON}

// Write prints the report in format.
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case FormatTable, "":
		return writeTable(w, r)
	case FormatMarkdown:
		return writeMarkdown(w, r)
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return fmt.Errorf("unknown output format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// version describes a product's move between versions.
func (p *ProductChange) version(arrow string) string {
	switch {
	case p.From == p.To:
		return p.To
	case p.From == "":
		return arrow + " " + p.To
	case p.To == "":
		return p.From + " " + arrow
	}
	return p.From + " " + arrow + " " + p.To
}

// objectSummary counts the object changes, e.g. "1 created, 4 changed".
func (p *ProductChange) objectSummary() string {
	created, changed, deleted := p.Counts()
	var parts []string
	for _, c := range []struct {
		n    int
		word string
	}{{created, "created"}, {changed, "changed"}, {deleted, "deleted"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.word))
		}
	}
	return strings.Join(parts, ", ")
}

// detail is what the change needs said beyond its kind and version.
func (p *ProductChange) detail() string {
	parts := []string{}
	if p.Reason != "" {
		parts = append(parts, p.Reason)
	}
	parts = append(parts, p.Settings...)
	return strings.Join(parts, "; ")
}

var actionSymbol = map[string]string{ObjectCreated: "+", ObjectChanged: "~", ObjectDeleted: "-"}

func (r *Report) summary() string {
	switch n := len(r.Sites); n {
	case 0:
		return fmt.Sprintf("no site changes (%d untouched)", r.Untouched)
	case 1:
		return fmt.Sprintf("1 site changes, %d untouched", r.Untouched)
	default:
		return fmt.Sprintf("%d sites change, %d untouched", n, r.Untouched)
	}
}

func writeTable(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	ew.printf("fleet diff %s -> %s: %s\n", r.Base, r.Head, r.summary())
	writeProblems(ew, r, "", "  ")
	if len(r.Sites) > 0 {
		ew.printf("\n")
		tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SITE\tPRODUCT\tCHANGE\tVERSION\tOBJECTS")
		for _, s := range r.Sites {
			if len(s.Products) == 0 {
				fmt.Fprintf(tw, "%s\t-\t%s\t-\t-\n", s.Site, s.Change)
			}
			for _, p := range s.Products {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Site, p.Product, p.Change, p.version("->"), p.objectSummary())
			}
		}
		_ = tw.Flush()
	}
	for _, s := range r.Sites {
		ew.printf("\nsite %s (%s)\n", s.Site, s.Change)
		for _, set := range s.Settings {
			ew.printf("  %s\n", set)
		}
		for _, p := range s.Products {
			ew.printf("  %s %s: %s", p.Product, p.version("->"), p.Change)
			if d := p.detail(); d != "" {
				ew.printf(" (%s)", d)
			}
			ew.printf("\n")
			for _, o := range p.Objects {
				ew.printf("    %s %s\n", actionSymbol[o.Action], o.Object)
				if o.Diff != "" {
					ew.printf("%s", indent(o.Diff, "      "))
				}
			}
		}
	}
	return ew.err
}

func writeProblems(ew *errWriter, r *Report, heading, prefix string) {
	if len(r.Problems) > 0 {
		ew.printf("%sproblems at %s (fix them: the change cannot be applied as it is):\n", heading, r.Head)
		for _, p := range r.Problems {
			ew.printf("%s%s\n", prefix, p)
		}
	}
	if len(r.BaseProblems) > 0 {
		ew.printf("%sproblems already at %s:\n", heading, r.Base)
		for _, p := range r.BaseProblems {
			ew.printf("%s%s\n", prefix, p)
		}
	}
}

func writeMarkdown(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	ew.printf("### syncd fleet diff\n\n`%s` → `%s`: **%s**\n", r.Base, r.Head, r.summary())
	if len(r.Problems) > 0 {
		ew.printf("\n:x: **Problems at `%s`** (the change cannot be applied as it is):\n\n", r.Head)
		for _, p := range r.Problems {
			ew.printf("- `%s`\n", p)
		}
	}
	if len(r.BaseProblems) > 0 {
		ew.printf("\nProblems already at `%s`:\n\n", r.Base)
		for _, p := range r.BaseProblems {
			ew.printf("- `%s`\n", p)
		}
	}
	if len(r.Sites) > 0 {
		ew.printf("\n| Site | Product | Change | Version | Objects |\n|---|---|---|---|---|\n")
		for _, s := range r.Sites {
			if len(s.Products) == 0 {
				ew.printf("| %s | | %s | | |\n", s.Site, s.Change)
			}
			for _, p := range s.Products {
				ew.printf("| %s | %s | %s | %s | %s |\n", s.Site, p.Product, p.Change, p.version("→"), p.objectSummary())
			}
		}
	}
	for _, s := range r.Sites {
		ew.printf("\n<details>\n<summary><b>%s</b> (%s): %s</summary>\n\n", s.Site, s.Change, siteHeadline(s))
		for _, set := range s.Settings {
			ew.printf("- %s\n", mdEscape(set))
		}
		for _, p := range s.Products {
			ew.printf("- **%s** %s: %s", p.Product, p.version("→"), p.Change)
			if d := p.detail(); d != "" {
				ew.printf(" (%s)", mdEscape(d))
			}
			ew.printf("\n")
			for _, o := range p.Objects {
				ew.printf("  - %s `%s`\n", o.Action, o.Object)
			}
			for _, o := range p.Objects {
				if o.Diff != "" {
					ew.printf("\n  ```diff\n%s  ```\n", indent(o.Diff, "  "))
				}
			}
		}
		ew.printf("\n</details>\n")
	}
	return ew.err
}

// siteHeadline names the products that change at a site in one line.
func siteHeadline(s SiteChange) string {
	var parts []string
	for _, p := range s.Products {
		parts = append(parts, fmt.Sprintf("%s %s", p.Product, p.Change))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d setting(s)", len(s.Settings))
	}
	return strings.Join(parts, ", ")
}

// mdEscape keeps text from being read as Markdown or HTML.
func mdEscape(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;", "|", "\\|", "*", "\\*", "_", "\\_", "`", "\\`").Replace(s)
}

func indent(text, prefix string) string {
	lines := strings.SplitAfter(text, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	if !strings.HasSuffix(text, "\n") && text != "" {
		b.WriteString("\n")
	}
	return b.String()
}

// errWriter remembers the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
