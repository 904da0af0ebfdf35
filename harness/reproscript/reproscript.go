package reproscript

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/relapse-dev/relapse/harness/fixture"
)

//go:embed templates/*.sh.tmpl
var shared embed.FS

// Cleanup declares what a script makes, so the shared prologue can refuse a
// directory that already holds it and undo all of it on exit.
type Cleanup struct {
	// Made are the names, relative to the script's directory, of every file
	// and directory the script creates (build outputs excepted: the
	// maintainer keeps the runtime built for them). A directory that holds
	// one already is refused before anything changes; on exit they are
	// removed, and a process whose root, working directory or arguments lie
	// in one of them is the script's and is killed.
	Made []string
	// Cgroup is the name (shell word, e.g. "c5261-$$") of the cgroup the
	// script's containers get under the root of every hierarchy, or the
	// prefix of several ("$cgroup-control"): processes in $cgroup,
	// $cgroup-* and below are killed, then those cgroups are removed. The
	// script sees it as $cgroup; putting the script's pid in it keeps two
	// runs apart.
	Cgroup string
	// Netns is the name (shell word) of a network namespace the script adds
	// with `ip netns add "$netns"`: processes in it are killed and it is
	// deleted. The script sees it as $netns.
	Netns string
	// Sysctl is a kernel parameter (dotted, "fs.pipe-user-pages-soft")
	// the script changes with set_sysctl VALUE: the cleanup puts its value
	// back before anything else.
	Sysctl string
}

// The prologue puts these unquoted in lists, in double quotes and in find
// patterns, so no quote, space, glob or command substitution: a name it
// made is plain, a cgroup or netns name may use shell variables ($$).
var (
	plainName = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	word      = regexp.MustCompile(`^[A-Za-z0-9._$-]+$`)
)

// sysctlKey is a dotted kernel parameter.
var sysctlKey = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_-]+)+$`)

// Check says what is wrong with a declaration, naming the field.
func (c Cleanup) Check() error {
	if len(c.Made) == 0 {
		return fmt.Errorf("reproducer cleanup: Made lists nothing: a script that makes nothing needs no cleanup, and one that makes something must name it")
	}
	for _, m := range c.Made {
		if !plainName.MatchString(m) || strings.HasPrefix(m, "/") || strings.Contains(m, "..") || path.Clean(m) != m || m == "." {
			return fmt.Errorf("reproducer cleanup: Made entry %q: want a plain relative name (letters, digits, . _ - /, no ..) inside the script's directory", m)
		}
	}
	for field, v := range map[string]string{"Cgroup": c.Cgroup, "Netns": c.Netns} {
		if v != "" && !word.MatchString(v) {
			return fmt.Errorf("reproducer cleanup: %s %q: want one name (letters, digits, . _ - and $ variables)", field, v)
		}
	}
	if c.Sysctl != "" && !sysctlKey.MatchString(c.Sysctl) {
		return fmt.Errorf("reproducer cleanup: Sysctl %q: want a dotted kernel parameter such as fs.pipe-user-pages-soft", c.Sysctl)
	}
	return nil
}

// funcs are the helpers every script template may call.
var funcs = template.FuncMap{
	// version drops the "v" of a version for prose ("v1.0.0-rc93" -> "1.0.0-rc93").
	"version": func(v string) string { return strings.TrimPrefix(v, "v") },
	// indent continues a multi-line command inside an if block.
	"indent": func(cmd string) string { return strings.ReplaceAll(cmd, "\n", "\n  ") },
	// sysctlPath is the /proc/sys file of a dotted kernel parameter.
	"sysctlPath": func(key string) string { return "/proc/sys/" + strings.ReplaceAll(key, ".", "/") },
	"join":       strings.Join,
	// seconds is a duration in whole seconds, rounded up and at least one,
	// for sleep, timeouts and loops that count in seconds.
	"seconds": func(d time.Duration) int { return max(1, int((d+time.Second-1)/time.Second)) },
	// commitNote names a release commit when the build recorded one.
	"commitNote": func(c string) string {
		if c == "" {
			return ""
		}
		return ", release commit " + c
	},
	// orDash shows an unknown fact as "-".
	"orDash": func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	},
	// makeRootfs and fillerRules are shell functions from package fixture,
	// which keeps them next to the Go code whose output they mirror.
	"makeRootfs":  func() string { return fixture.RootfsShell },
	"fillerRules": func() string { return fixture.FillerRulesShell },
}

// Template is a scenario's script template parsed together with the
// shared templates ("prologue", "build_runc").
type Template struct{ t *template.Template }

// Parse reads a scenario's script template from its embedded files. The
// template calls {{template "prologue" .Cleanup}} once its comments are
// written, and may define "release" (shell commands the cleanup runs after
// killing the script's processes, before removing its files).
func Parse(scenarioFS fs.FS, file string) (*Template, error) {
	t, err := template.New(path.Base(file)).Funcs(funcs).Option("missingkey=error").ParseFS(shared, "templates/*.sh.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parsing the shared reproducer templates: %w", err)
	}
	if t, err = t.ParseFS(scenarioFS, file); err != nil {
		return nil, fmt.Errorf("parsing reproducer template %s: %w", file, err)
	}
	return &Template{t: t}, nil
}

// MustParse is Parse for templates embedded in the binary: a broken one
// is a programming error, found by the scenario's own tests.
func MustParse(scenarioFS fs.FS, file string) *Template {
	t, err := Parse(scenarioFS, file)
	if err != nil {
		panic(err)
	}
	return t
}

// Base is embedded in every script's template data: the prologue reads
// .Cleanup.
type Base struct{ Cleanup Cleanup }

// CleanupSpec is the script's cleanup declaration.
func (b Base) CleanupSpec() Cleanup { return b.Cleanup }

// Render writes the script. data embeds Base, whose Cleanup is checked
// first.
func (t *Template) Render(data interface{ CleanupSpec() Cleanup }) (string, error) {
	if err := data.CleanupSpec().Check(); err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("rendering reproducer %s: %w", t.t.Name(), err)
	}
	return b.String(), nil
}

// Lint checks a rendered script the way a maintainer's machine would run
// it: `sh -n` parses it, and `shellcheck -s sh` (the Debian package
// shellcheck, in ci/deps.sh's test group) finds no warning, so that it
// stays POSIX sh.
func Lint(ctx context.Context, script string) error {
	if out, err := exec.CommandContext(ctx, "sh", "-n", "-c", script).CombinedOutput(); err != nil {
		return fmt.Errorf("sh -n: %w\n%s", err, out)
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		return fmt.Errorf("shellcheck is not installed (apt-get install shellcheck, or ci/deps.sh test): %w", err)
	}
	cmd := exec.CommandContext(ctx, "shellcheck", "-s", "sh", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("shellcheck -s sh: %w\n%s", err, out)
	}
	return nil
}
