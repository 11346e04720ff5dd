package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// The pages of docs/ are held to what syncd does: TestDocsExamples runs the
// commands they show and compares the output they show. Conventions, in the
// Markdown of any docs/*.md page:
//
//   - A fenced block whose info string is `console` is run. Each line
//     starting with "$ " is a command; the lines after it, up to the next
//     command or the end of the block, are its output (stdout and stderr as
//     a terminal shows them). A line "..." stands for any number of lines,
//     "[...]" in a line for any text (a commit hash).
//     A command ending in "# exit N" must exit with N, any other with 0.
//     `syncd ...` runs in-process through the cobra root command; anything
//     else runs with bash. Only offline commands belong in such blocks.
//   - A "console cluster" block is run the same way against a real
//     kube-apiserver (one per page, as $KUBECONFIG, with the test control
//     plane's kubectl on $PATH); it is skipped under -short.
//   - A fenced block whose info string has `file=PATH` (e.g. "yaml
//     file=my-fleet/fleet.yaml") is written to PATH before the commands
//     after it run.
//
// Each page runs in its own directory holding a copy of examples/ (so
// `--repo-dir examples/fleet-repo` works as it does in the repository), in
// page order. Blocks of any other kind are not run: use `sh` for commands
// that need a cluster, a Git server or the network.

// docsDir is the repository's docs/, relative to this package.
const docsDir = "../../docs"

// docStep is one thing a page does: write a file, or run a command and
// compare its output.
type docStep struct {
	line int // in the page, 1-based

	file, content string // a file block

	command  string   // a console command, without "$ " and the exit comment
	cluster  bool     // the command needs a cluster (a "console cluster" block)
	exitCode int      // expected exit code
	output   []string // expected output lines
}

var exitComment = regexp.MustCompile(`\s+#\s*exit\s+(\d+)\s*$`)

// parseDocSteps reads the runnable blocks of a Markdown page.
func parseDocSteps(page string) ([]docStep, error) {
	var steps []docStep
	lines := strings.Split(page, "\n")
	for i := 0; i < len(lines); i++ {
		fence, info, ok := openingFence(lines[i])
		if !ok {
			continue
		}
		start := i + 1
		end := start
		for end < len(lines) && strings.TrimSpace(lines[end]) != fence {
			end++
		}
		if end == len(lines) {
			return nil, fmt.Errorf("line %d: code block never closed", i+1)
		}
		body := lines[start:end]
		i = end
		fields := strings.Fields(info)
		if len(fields) == 0 {
			continue
		}
		for _, f := range fields[1:] {
			if p, ok := strings.CutPrefix(f, "file="); ok {
				steps = append(steps, docStep{line: start + 1, file: p, content: strings.Join(body, "\n") + "\n"})
			}
		}
		if fields[0] != "console" {
			continue
		}
		cluster := slices.Contains(fields[1:], "cluster")
		for j, l := range body {
			if cmd, ok := strings.CutPrefix(l, "$ "); ok {
				st := docStep{line: start + j + 1, command: cmd, cluster: cluster}
				if m := exitComment.FindStringSubmatch(cmd); m != nil {
					st.exitCode, _ = strconv.Atoi(m[1])
					st.command = strings.TrimSpace(cmd[:len(cmd)-len(m[0])])
				}
				steps = append(steps, st)
				continue
			}
			if len(steps) == 0 || steps[len(steps)-1].command == "" {
				return nil, fmt.Errorf("line %d: console block output before any \"$ \" command", start+j+1)
			}
			steps[len(steps)-1].output = append(steps[len(steps)-1].output, l)
		}
	}
	return steps, nil
}

// openingFence reports whether line opens a fenced code block, with its
// fence and info string.
func openingFence(line string) (fence, info string, ok bool) {
	t := strings.TrimLeft(line, " ")
	n := len(t) - len(strings.TrimLeft(t, "`"))
	if n < 3 {
		return "", "", false
	}
	return t[:n], strings.TrimSpace(t[n:]), true
}

// matchOutput compares output with the lines a page shows, where "..."
// stands for any number of lines. Trailing blanks and blank lines at the end
// do not count.
func matchOutput(want []string, got string) bool {
	return matchLines(trimLines(want), trimLines(strings.Split(got, "\n")))
}

func trimLines(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimRight(l, " \t\r")
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

func matchLines(want, got []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if want[0] == "..." {
		for k := 0; k <= len(got); k++ {
			if matchLines(want[1:], got[k:]) {
				return true
			}
		}
		return false
	}
	return len(got) > 0 && matchLine(want[0], got[0]) && matchLines(want[1:], got[1:])
}

// matchLine compares one line, where "[...]" in want stands for any text
// (a commit hash, a time).
func matchLine(want, got string) bool {
	if !strings.Contains(want, "[...]") {
		return want == got
	}
	parts := strings.Split(want, "[...]")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(got)
}

// splitWords splits a command line as a shell would for the simple commands
// the docs show: words, single and double quotes.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			i = len(s)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// runDocCommand runs one command of a page in dir and returns its combined
// output and exit code.
func runDocCommand(ctx context.Context, dir, command string) (string, int, error) {
	if strings.HasPrefix(command, "syncd ") && !strings.ContainsAny(command, "|&;<>$`") {
		args, err := splitWords(command)
		if err != nil {
			return "", 0, err
		}
		var out bytes.Buffer
		code := Execute(ctx, args[1:], strings.NewReader(""), &out, &out)
		return out.String(), code, nil
	}
	cmd := exec.CommandContext(ctx, "bash", "-c", command)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			return string(out), 0, err
		}
		code = ee.ExitCode()
	}
	return string(out), code, nil
}

func TestDocsExamples(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join(docsDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	// The commands must not pick up settings of the machine running them.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "SYNCD_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	// The test control plane is found from the repository, before the
	// pages move the working directory away from it.
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if dir, err := testenv.BinDir(); err == nil {
			t.Setenv("KUBEBUILDER_ASSETS", dir)
		}
	}
	// Git commits made by the pages' commands: a fixed identity and no
	// configuration of the machine (signing, hooks, templates).
	for k, v := range map[string]string{
		"GIT_AUTHOR_NAME": "Docs Example", "GIT_AUTHOR_EMAIL": "docs@example.com",
		"GIT_COMMITTER_NAME": "Docs Example", "GIT_COMMITTER_EMAIL": "docs@example.com",
		"GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
		"GIT_CONFIG_GLOBAL": os.DevNull, "GIT_CONFIG_NOSYSTEM": "1",
	} {
		t.Setenv(k, v)
	}
	ran := 0
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		steps, err := parseDocSteps(string(b))
		if err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		if len(steps) == 0 {
			continue
		}
		name := filepath.Base(page)
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(filepath.Join(dir, "examples"), os.DirFS(examples)); err != nil {
				t.Fatal(err)
			}
			t.Chdir(dir)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			var cluster *testenv.Cluster
			for _, st := range steps {
				if st.cluster && testing.Short() {
					continue
				}
				if st.cluster && cluster == nil {
					// One API server per page, met by the commands as
					// a user's current kubeconfig.
					cluster = testenv.NewCluster(t, testenv.ClusterOptions{})
					t.Setenv("KUBECONFIG", cluster.Kubeconfig)
					// kubectl of the test control plane, for the
					// out-of-band edits pages show.
					if bin, err := testenv.BinDir(); err == nil {
						t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
					}
				}
				if st.file != "" {
					p := filepath.Join(dir, filepath.FromSlash(st.file))
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, []byte(st.content), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				ran++
				out, code, err := runDocCommand(ctx, dir, st.command)
				if err != nil {
					t.Fatalf("docs/%s:%d: $ %s: %v", name, st.line, st.command, err)
				}
				if code != st.exitCode {
					t.Errorf("docs/%s:%d: $ %s: exit code %d, the page says %d\noutput:\n%s", name, st.line, st.command, code, st.exitCode, out)
				}
				if !matchOutput(st.output, out) {
					t.Errorf("docs/%s:%d: $ %s: output differs from the page\n--- page\n%s\n--- syncd\n%s",
						name, st.line, st.command, strings.Join(st.output, "\n"), out)
				}
			}
		})
	}
	if ran == 0 {
		t.Fatal("no runnable example in docs/*.md: the convention (```console blocks) is not followed anywhere")
	}
}

func TestParseDocSteps(t *testing.T) {
	page := "# Page\n\n```yaml file=f/a.yaml\nkey: v\n```\n\n```console\n$ syncd validate --repo-dir f  # exit 1\nline one\n...\n$ echo hi\nhi\n```\n\n```sh\n$ not run\n```\n"
	steps, err := parseDocSteps(page)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 3 {
		t.Fatalf("got %d steps, want 3: %+v", len(steps), steps)
	}
	if steps[0].file != "f/a.yaml" || steps[0].content != "key: v\n" {
		t.Errorf("file step = %+v", steps[0])
	}
	if steps[1].command != "syncd validate --repo-dir f" || steps[1].exitCode != 1 || strings.Join(steps[1].output, "|") != "line one|..." {
		t.Errorf("command step = %+v", steps[1])
	}
	if steps[2].command != "echo hi" || steps[2].exitCode != 0 || steps[2].line != 11 {
		t.Errorf("command step = %+v", steps[2])
	}
	if _, err := parseDocSteps("```console\noutput first\n```\n"); err == nil {
		t.Error("output before a command was accepted")
	}
	if steps, err := parseDocSteps("```\nplain\n```\n"); err != nil || len(steps) != 0 {
		t.Errorf("a block without info string: %v, %v", steps, err)
	}
	if _, err := parseDocSteps("```console\n$ syncd version\n"); err == nil {
		t.Error("an unclosed block was accepted")
	}
}

func TestMatchOutput(t *testing.T) {
	for _, tc := range []struct {
		want []string
		got  string
		ok   bool
	}{
		{[]string{"a", "b"}, "a\nb\n", true},
		{[]string{"a", "b"}, "a\nb  \n\n", true},
		{[]string{"a", "b"}, "a\nc\n", false},
		{[]string{"a"}, "a\nb\n", false},
		{[]string{"a", "..."}, "a\nb\nc\n", true},
		{[]string{"...", "c"}, "a\nb\nc\n", true},
		{[]string{"a", "...", "c"}, "a\nc\n", true},
		{[]string{"a", "...", "d"}, "a\nb\nc\n", false},
		{nil, "", true},
		{nil, "x\n", false},
		{[]string{"diff a ([...]) -> b ([...])"}, "diff a (c08a1a4) -> b (32a0ad0)\n", true},
		{[]string{"diff a ([...]) -> b"}, "diff a (c08a1a4) -> c\n", false},
		{[]string{"x.y"}, "xzy\n", false},
	} {
		if got := matchOutput(tc.want, tc.got); got != tc.ok {
			t.Errorf("matchOutput(%q, %q) = %v, want %v", tc.want, tc.got, got, tc.ok)
		}
	}
}

func TestSplitWords(t *testing.T) {
	for in, want := range map[string]string{
		`syncd render --site a`:             "syncd|render|--site|a",
		`syncd fleet diff "a b" 'c'  # x`:   "syncd|fleet|diff|a b|c",
		`syncd validate --repo-dir=my-repo`: "syncd|validate|--repo-dir=my-repo",
	} {
		got, err := splitWords(in)
		if err != nil || strings.Join(got, "|") != want {
			t.Errorf("splitWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := splitWords(`syncd "open`); err == nil {
		t.Error("an unterminated quote was accepted")
	}
}

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*$`)
)

// headingAnchors returns the anchors GitHub gives the headings of a page.
func headingAnchors(page string) map[string]bool {
	anchors := map[string]bool{}
	for _, m := range mdHeading.FindAllStringSubmatch(stripCodeBlocks(page), -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
				b.WriteRune(r)
			}
		}
		anchors[b.String()] = true
	}
	return anchors
}

// stripCodeBlocks drops fenced code blocks, whose lines are no headings.
func stripCodeBlocks(page string) string {
	var out []string
	fence := ""
	for _, l := range strings.Split(page, "\n") {
		if f, _, ok := openingFence(l); ok && (fence == "" || strings.TrimSpace(l) == fence) {
			if fence == "" {
				fence = f
			} else {
				fence = ""
			}
			continue
		}
		if fence == "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestDocsLinks checks that every relative link of the README and docs/
// reaches a file of the repository, and its #anchor a heading of that page.
func TestDocsLinks(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join(docsDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := filepath.Glob(filepath.Join(docsDir, "cli", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append(append(pages, cli...), "../../README.md", "../../charts/syncd/README.md")
	checked := 0
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(stripCodeBlocks(string(b)), -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(link, "#")
			target := page
			if path != "" {
				target = filepath.Join(filepath.Dir(page), filepath.FromSlash(path))
			}
			checked++
			tb, err := os.ReadFile(target)
			if err != nil {
				if fi, serr := os.Stat(target); serr == nil && fi.IsDir() && anchor == "" {
					continue
				}
				t.Errorf("%s: link %q: %v", page, link, err)
				continue
			}
			if anchor != "" && !headingAnchors(string(tb))[anchor] {
				t.Errorf("%s: link %q: %s has no heading with anchor #%s", page, link, target, anchor)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative link found: the link pattern is broken")
	}
}

func TestHeadingAnchors(t *testing.T) {
	a := headingAnchors("# Title\n## 1. Watch it work: `make demo`\n```sh\n# not a heading\n```\n### Permissions: what least privilege needs\n")
	for _, want := range []string{"title", "1-watch-it-work-make-demo", "permissions-what-least-privilege-needs"} {
		if !a[want] {
			t.Errorf("no anchor %q in %v", want, a)
		}
	}
	if a["not-a-heading"] {
		t.Error("a comment in a code block counted as a heading")
	}
}

var (
	// metricName is how internal/metrics names a series.
	metricName = regexp.MustCompile(`Name:\s*"(syncd_[a-z_]+)"`)
	// eventReason is how the reconciler records an Event, and how other
	// packages name an Event reason.
	eventReason = regexp.MustCompile(`EventType(?:Normal|Warning),\s*"([A-Z][A-Za-z]+)"|\breason[A-Za-z]*\s*=\s*"([A-Z][A-Za-z]+)"`)
)

// TestOperationsCoversMetricsAndEvents fails when syncd exports a metric or
// records an Event reason that docs/operations.md does not describe.
func TestOperationsCoversMetricsAndEvents(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(docsDir, "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	var metrics, reasons []string
	err = filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range metricName.FindAllStringSubmatch(string(b), -1) {
			metrics = append(metrics, m[1]+" ("+path+")")
		}
		for _, m := range eventReason.FindAllStringSubmatch(string(b), -1) {
			reasons = append(reasons, m[1]+m[2]+" ("+path+")")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(metrics) == 0 || len(reasons) == 0 {
		t.Fatalf("found %d metrics and %d Event reasons in internal/: the patterns are broken", len(metrics), len(reasons))
	}
	for _, m := range metrics {
		name, _, _ := strings.Cut(m, " ")
		if !strings.Contains(string(page), "`"+name+"`") {
			t.Errorf("docs/operations.md does not describe metric %s: add it to the metrics table", m)
		}
	}
	for _, r := range reasons {
		name, _, _ := strings.Cut(r, " ")
		if !strings.Contains(string(page), "| `"+name+"` |") {
			t.Errorf("docs/operations.md does not describe Event reason %s: add it to the Events table", r)
		}
	}
}
