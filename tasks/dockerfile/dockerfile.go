// Package dockerfile reads what magepack needs to know of a Dockerfile
// before the engine builds it: the lines only BuildKit builds, the syntax
// directive, the build arguments and stages, and which image's Go builds
// the binary (with the Go release names of go.mod, images and tags). It
// runs nothing.
package dockerfile

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// File is what Parse reads from a Dockerfile: the lines
// the engine's legacy builder cannot build, the syntax directive, the
// global build arguments and the stages.
type File struct {
	// Syntax is the value of a `# syntax=` parser directive ("" when there
	// is none) and SyntaxLine its line. The legacy builder ignores it and
	// parses with its own built-in parser; that alone does not fail a build.
	Syntax     string
	SyntaxLine int
	// BuildKit lists, in order, the instructions that use syntax only
	// BuildKit builds: the legacy builder rejects each of them.
	BuildKit []BuildKitLine
	// Args are the global build arguments (ARG before the first FROM), the
	// only ones a FROM line can use, in order.
	Args []Arg
	// Stages are the build stages, one per FROM, in order.
	Stages []Stage
}

// BuildKitLine is an instruction that needs BuildKit.
type BuildKitLine struct {
	Line    int    // 1-based line of the Dockerfile holding the syntax
	Text    string // that line, trimmed
	Feature string // what needs BuildKit, e.g. "RUN --mount", "a heredoc (<<EOF)"
}

// Arg is a global build argument.
type Arg struct {
	Name       string
	Default    string // the value after "=", unquoted
	HasDefault bool   // whether the ARG line gives one
	Line       int
}

// Stage is one build stage.
type Stage struct {
	Line     int    // 1-based line of its FROM
	From     string // the image or earlier stage as written, e.g. golang:${GO_VERSION}-alpine
	Name     string // the name after AS, lowercased; "" without one
	Platform string // the --platform value as written; "" without one
	// GoBuild is true when a RUN of the stage runs `go build` or
	// `go install`: the stage whose image must have a new enough Go.
	GoBuild bool
}

// buildKitFlags are the instruction flags only BuildKit knows; the legacy
// builder of Engine 20.10 fails on each ("Unknown flag: link" when parsing,
// or "the --mount option requires BuildKit" at the step). Flags neither
// knows are left for the engine to report.
var buildKitFlags = map[string]map[string]bool{
	"run":         {"mount": true, "network": true, "security": true, "device": true},
	"copy":        {"link": true, "chmod": true, "exclude": true, "parents": true},
	"add":         {"link": true, "chmod": true, "checksum": true, "keep-git-dir": true, "exclude": true, "unpack": true},
	"healthcheck": {"start-interval": true},
}

// buildKitPlatformArgs are the arguments BuildKit sets for every FROM
// line; the legacy builder leaves them empty, so FROM --platform=$X fails
// there unless a global ARG gives X a default.
var buildKitPlatformArgs = []string{"BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT", "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT"}

var (
	directiveRE = regexp.MustCompile(`^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`)
	heredocRE   = regexp.MustCompile(`^(\d*)<<(-?)([^<]*)$`)
	goBuildRE   = regexp.MustCompile(`(^|[\s;&|(/"'=])go\s+(build|install)(\s|$)`)
	argRefRE    = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)
)

// physLine is one line of the file with its 1-based number.
type physLine struct {
	n    int
	text string
}

// Parse reads a Dockerfile the way the Dockerfile frontend does
// (parser directives, the escape character, line continuations, comments,
// heredocs) and returns what the build checks need. It is lenient: content
// it does not understand is skipped, never an error; only a failure to
// read r is returned.
func Parse(r io.Reader) (*File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read Dockerfile: %w", err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var lines []physLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	for n := 1; sc.Scan(); n++ {
		lines = append(lines, physLine{n: n, text: strings.TrimRight(sc.Text(), "\r")})
	}

	d := &File{}
	escape := byte('\\')
	i := 0
	// Parser directives: only at the very top, each key once.
	seen := map[string]bool{}
	for ; i < len(lines); i++ {
		m := directiveRE.FindStringSubmatch(strings.TrimSpace(lines[i].text))
		if m == nil {
			break
		}
		key := strings.ToLower(m[1])
		if seen[key] {
			break
		}
		seen[key] = true
		switch key {
		case "syntax":
			d.Syntax, d.SyntaxLine = m[2], lines[i].n
		case "escape":
			if m[2] == "`" {
				escape = '`'
			}
		}
	}

	for i < len(lines) {
		first := lines[i]
		i++
		if isBlankOrComment(first.text) {
			continue
		}
		// Join continuation lines, skipping comments and blank lines
		// inside the instruction as the frontend does.
		parts := []physLine{first}
		text, more := trimContinuation(strings.TrimLeftFunc(first.text, unicode.IsSpace), escape)
		var joined strings.Builder
		joined.WriteString(text)
		for more && i < len(lines) {
			l := lines[i]
			i++
			if isBlankOrComment(l.text) {
				continue
			}
			parts = append(parts, l)
			text, more = trimContinuation(l.text, escape)
			joined.WriteString(text)
		}
		ins := parseInstruction(joined.String())
		var bodies []string
		if ins.canHaveHeredoc() {
			for _, h := range ins.heredocs() {
				body, next := heredocBody(lines, i, h)
				i = next
				bodies = append(bodies, body)
				d.addBuildKit(parts, "<<", fmt.Sprintf("a heredoc (<<%s)", h.name))
			}
		}
		d.add(ins, parts, strings.Join(bodies, "\n"))
	}
	sort.SliceStable(d.BuildKit, func(a, b int) bool { return d.BuildKit[a].Line < d.BuildKit[b].Line })
	return d, nil
}

// Read parses the Dockerfile at path (see Parse). It
// returns an error naming the path when the file cannot be read.
func Read(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read Dockerfile: %w", err)
	}
	defer f.Close()
	d, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// GoBuilder says which image's Go compiles a Dockerfile's binary, so the
// caller can check that Go against go.mod before building.
type GoBuilder struct {
	// UsesArg is true when a FROM takes its image from the builder build
	// argument (see Dockerfile.UsesArg): the configured builder is the one
	// to check, and to pull.
	UsesArg bool
	// Image is otherwise the build stage's image, resolved (see
	// StageImage): the one to check instead. "" when it cannot be told.
	Image string
	// Line is the build stage's FROM line; 0 when there is no stage.
	Line int
	// Unknown says why Image could not be told, when UsesArg is false and
	// Image is "": the caller skips the check and says why.
	Unknown string
}

// GoBuilder decides whose Go version to check: the builder argument arg
// (e.g. "GO_IMAGE") when a FROM uses it, else the image of BuildStage with
// args (the build arguments the build will pass) expanded.
func (d *File) GoBuilder(arg string, args map[string]string) GoBuilder {
	i := d.BuildStage()
	var g GoBuilder
	if i >= 0 {
		g.Line = d.Stages[i].Line
	}
	if d.UsesArg(arg) {
		g.UsesArg = true
		return g
	}
	img, err := d.StageImage(i, args)
	if err != nil {
		g.Unknown = err.Error()
		return g
	}
	g.Image = img
	return g
}

// instruction is one logical Dockerfile instruction.
type instruction struct {
	cmd   string   // lowercased, e.g. "run"
	flags []string // the leading --flag[=value] words, without "--"
	args  string   // the rest
}

func parseInstruction(line string) instruction {
	line = strings.TrimSpace(line)
	cmd, rest := line, ""
	if i := strings.IndexFunc(line, unicode.IsSpace); i >= 0 {
		cmd, rest = line[:i], strings.TrimLeftFunc(line[i:], unicode.IsSpace)
	}
	ins := instruction{cmd: strings.ToLower(cmd)}
	for strings.HasPrefix(rest, "--") {
		end := strings.IndexFunc(rest, unicode.IsSpace)
		if end < 0 {
			end = len(rest)
		}
		ins.flags = append(ins.flags, rest[2:end])
		rest = strings.TrimLeftFunc(rest[end:], unicode.IsSpace)
	}
	ins.args = rest
	return ins
}

// canHaveHeredoc reports whether the frontend looks for heredocs in ins:
// RUN, COPY and ADD in shell form.
func (ins instruction) canHaveHeredoc() bool {
	switch ins.cmd {
	case "run", "copy", "add":
		return !strings.HasPrefix(ins.args, "[")
	}
	return false
}

// heredoc is a "<<NAME" (or "<<-NAME", "<<'NAME'") word.
type heredoc struct {
	name  string
	chomp bool // "<<-": leading tabs do not count on the terminator line
}

// heredocs returns the heredoc words of ins's arguments, in order.
func (ins instruction) heredocs() []heredoc {
	if !strings.Contains(ins.args, "<<") {
		return nil
	}
	var hs []heredoc
	for _, w := range shellWords(ins.args) {
		m := heredocRE.FindStringSubmatch(w)
		if m == nil {
			continue
		}
		name := strings.NewReplacer(`"`, "", `'`, "").Replace(m[3])
		if name == "" {
			continue
		}
		hs = append(hs, heredoc{name: name, chomp: m[2] == "-"})
	}
	return hs
}

// shellWords splits s into words at whitespace outside quotes, keeping the
// quotes and escapes in the words, as the frontend does before looking for
// heredocs: in `echo "a <<b"` the quoted text is one word, not a heredoc.
func shellWords(s string) []string {
	var (
		words []string
		cur   strings.Builder
		quote byte
		in    bool // a word has started
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			cur.WriteByte(c)
			if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else if c == quote {
				quote = 0
			}
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			i++
			cur.WriteByte(s[i])
			in = true
		case c == '"' || c == '\'':
			quote = c
			cur.WriteByte(c)
			in = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in || cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return words
}

// heredocBody collects the lines from lines[i] up to h's terminator line
// (or the end) and returns them and the index after the terminator.
func heredocBody(lines []physLine, i int, h heredoc) (string, int) {
	var body []string
	for ; i < len(lines); i++ {
		t := lines[i].text
		if h.chomp {
			t = strings.TrimLeft(t, "\t")
		}
		if t == h.name {
			return strings.Join(body, "\n"), i + 1
		}
		body = append(body, lines[i].text)
	}
	return strings.Join(body, "\n"), i
}

// add records what ins means for the checks: BuildKit-only flags, global
// ARGs, stages and go build steps. body is the text of its heredocs.
func (d *File) add(ins instruction, parts []physLine, body string) {
	for _, f := range ins.flags {
		name, value, _ := strings.Cut(f, "=")
		if buildKitFlags[ins.cmd][strings.ToLower(name)] {
			d.addBuildKit(parts, "--"+name, strings.ToUpper(ins.cmd)+" --"+name)
		}
		if ins.cmd == "from" && strings.EqualFold(name, "platform") {
			if arg := d.platformArg(value); arg != "" {
				d.addBuildKit(parts, "--"+name, "FROM --platform with $"+arg+", which only BuildKit sets")
			}
		}
	}
	switch ins.cmd {
	case "arg":
		if len(d.Stages) == 0 {
			d.Args = append(d.Args, parseArgs(ins.args, parts[0].n)...)
		}
	case "from":
		s := Stage{Line: parts[0].n}
		for _, f := range ins.flags {
			if name, value, _ := strings.Cut(f, "="); strings.EqualFold(name, "platform") {
				s.Platform = value
			}
		}
		words := strings.Fields(ins.args)
		if len(words) > 0 {
			s.From = words[0]
		}
		if len(words) >= 3 && strings.EqualFold(words[1], "as") {
			s.Name = strings.ToLower(words[2])
		}
		d.Stages = append(d.Stages, s)
	case "run":
		// Exec form (["go", "build", "."]) reads as the shell form would.
		cmdline := strings.NewReplacer("[", " ", "]", " ", `"`, " ", ",", " ").Replace(ins.args)
		if len(d.Stages) > 0 && (goBuildRE.MatchString(cmdline) || goBuildRE.MatchString(body)) {
			d.Stages[len(d.Stages)-1].GoBuild = true
		}
	}
}

// addBuildKit records a BuildKit-only feature, on the physical line of the
// instruction that holds token (its first line when none does).
func (d *File) addBuildKit(parts []physLine, token, feature string) {
	at := parts[0]
	for _, p := range parts {
		if strings.Contains(p.text, token) {
			at = p
			break
		}
	}
	d.BuildKit = append(d.BuildKit, BuildKitLine{Line: at.n, Text: strings.TrimSpace(at.text), Feature: feature})
}

// platformArg returns the BuildKit platform argument a --platform value
// uses without a global default, or "".
func (d *File) platformArg(value string) string {
	for _, m := range argRefRE.FindAllStringSubmatch(value, -1) {
		name := m[1] + m[4]
		for _, a := range buildKitPlatformArgs {
			if name != a {
				continue
			}
			if arg, ok := d.arg(name); ok && arg.HasDefault {
				break
			}
			return name
		}
	}
	return ""
}

// parseArgs reads the NAME[=value] words of an ARG instruction.
func parseArgs(args string, line int) []Arg {
	var out []Arg
	for _, w := range shellWords(args) {
		name, value, has := strings.Cut(w, "=")
		if name == "" {
			continue
		}
		out = append(out, Arg{Name: name, Default: unquote(value), HasDefault: has, Line: line})
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// arg returns the last global ARG named name.
func (d *File) arg(name string) (Arg, bool) {
	for i := len(d.Args) - 1; i >= 0; i-- {
		if d.Args[i].Name == name {
			return d.Args[i], true
		}
	}
	return Arg{}, false
}

// UsesArg reports whether a FROM line takes its image from the global
// build argument name (declared with ARG before the first FROM and
// referenced as $name or ${name}), as magepack's Dockerfiles take the Go
// builder from GO_IMAGE.
func (d *File) UsesArg(name string) bool {
	if _, ok := d.arg(name); !ok {
		return false
	}
	for _, s := range d.Stages {
		for _, m := range argRefRE.FindAllStringSubmatch(s.From, -1) {
			if m[1]+m[4] == name {
				return true
			}
		}
	}
	return false
}

// BuildStage returns the index of the stage that builds the Go binary:
// the first whose RUN runs `go build` or `go install`, else the first
// stage; -1 when there is no stage.
func (d *File) BuildStage() int {
	for i, s := range d.Stages {
		if s.GoBuild {
			return i
		}
	}
	if len(d.Stages) == 0 {
		return -1
	}
	return 0
}

// StageImage returns the image stage i starts from, with global build
// arguments expanded (values in args win over the ARG defaults, as build
// arguments do) and earlier stage names followed. It returns an error
// saying why when it cannot tell: a variable without a value, FROM
// scratch, or no such stage.
func (d *File) StageImage(i int, args map[string]string) (string, error) {
	for hops := 0; hops <= len(d.Stages); hops++ {
		if i < 0 || i >= len(d.Stages) {
			return "", fmt.Errorf("the Dockerfile has no stage %d", i)
		}
		s := d.Stages[i]
		ref, err := d.expand(s.From, args)
		if err != nil {
			return "", fmt.Errorf("line %d: FROM %s: %w", s.Line, s.From, err)
		}
		if ref == "" {
			return "", fmt.Errorf("line %d: FROM names no image", s.Line)
		}
		if strings.EqualFold(ref, "scratch") {
			return "", fmt.Errorf("line %d: the stage is FROM scratch, which has no Go", s.Line)
		}
		next := -1
		for j := range i {
			if d.Stages[j].Name != "" && d.Stages[j].Name == strings.ToLower(ref) {
				next = j
			}
		}
		if next < 0 {
			return ref, nil
		}
		i = next
	}
	return "", fmt.Errorf("the Dockerfile's stages refer to each other in a loop")
}

// expand replaces $NAME, ${NAME}, ${NAME:-word} and ${NAME:+word} in s with
// the global build arguments' values.
func (d *File) expand(s string, args map[string]string) (string, error) {
	var missing []string
	out := argRefRE.ReplaceAllStringFunc(s, func(ref string) string {
		m := argRefRE.FindStringSubmatch(ref)
		name, op, word := m[1]+m[4], m[2], m[3]
		value, set := args[name]
		if a, ok := d.arg(name); !set && ok && a.HasDefault {
			value, set = a.Default, true
		} else if _, declared := d.arg(name); !declared {
			set, value = false, "" // FROM sees only global ARGs
		}
		switch {
		case op == ":-" || op == "-":
			if !set || (op == ":-" && value == "") {
				return word
			}
			return value
		case op == ":+" || op == "+":
			if set && (op == "+" || value != "") {
				return word
			}
			return ""
		case !set:
			missing = append(missing, name)
		}
		return value
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("$%s has no value", strings.Join(missing, ", $"))
	}
	return out, nil
}

func isBlankOrComment(s string) bool {
	t := strings.TrimLeftFunc(s, unicode.IsSpace)
	return t == "" || t[0] == '#'
}

// trimContinuation removes a trailing escape character (and the spaces
// after it) and reports whether the instruction continues on the next line.
func trimContinuation(s string, escape byte) (string, bool) {
	t := strings.TrimRight(s, " \t")
	if t == "" || t[len(t)-1] != escape {
		return s, false
	}
	if len(t) >= 2 && t[len(t)-2] == escape {
		return s, false // an escaped escape character ends the line
	}
	return t[:len(t)-1], true
}
