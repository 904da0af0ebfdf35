package versions

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Resolved is an exact version of a component, with the hash of its source.
type Resolved struct {
	Component string `json:"component"`
	Module    string `json:"module"`
	// Requested is what the user typed.
	Requested string `json:"requested"`
	// Version is the module version ("v1.0.0-rc93").
	Version string `json:"version"`
	// Sum is the go.sum hash (h1:...) of the module zip.
	Sum string `json:"sum"`
	// Dir is the unpacked module source in the module cache.
	Dir string `json:"-"`
}

// SemVer is the version without the leading "v", as semver constraints want it.
func (r Resolved) SemVer() string { return strings.TrimPrefix(r.Version, "v") }

// UnknownVersionError says that a version is neither an alias nor served.
type UnknownVersionError struct {
	Component Component
	Requested string
	Reason    string
}

func (e *UnknownVersionError) Error() string {
	return fmt.Sprintf("unknown %s version %q: %s\nknown %s versions:\n%sany other version the Go module proxy serves for %s may be given in full (e.g. 1.1.12)",
		e.Component.Name, e.Requested, e.Reason, e.Component.Name, e.Component.Known(), e.Component.Module)
}

// Normalize maps an alias or a version string to a module version without
// touching the network. It fails for strings that cannot be a version.
func (c Component) Normalize(requested string) (string, error) {
	s := strings.TrimSpace(requested)
	if s == "" {
		return "", &UnknownVersionError{Component: c, Requested: requested, Reason: "no version given"}
	}
	if p, ok := c.lookup(s); ok {
		return p.Version, nil
	}
	v, err := semver.StrictNewVersion(strings.TrimPrefix(s, "v"))
	if err != nil {
		return "", &UnknownVersionError{Component: c, Requested: requested, Reason: "not a known alias and not a semantic version"}
	}
	return "v" + v.String(), nil
}

// Resolve normalizes the requested version and asks the Go module proxy
// for it, which also downloads the source and yields its hash.
func (c Component) Resolve(ctx context.Context, requested string) (Resolved, error) {
	version, err := c.Normalize(requested)
	if err != nil {
		return Resolved{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", c.Module+"@"+version)
	cmd.Env = goEnv()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct {
		Version, Sum, Dir, Error string
	}
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil || info.Error != "" || runErr != nil {
		reason := strings.TrimSpace(info.Error + " " + stderr.String())
		if reason == "" && runErr != nil {
			reason = runErr.Error()
		}
		return Resolved{}, &UnknownVersionError{Component: c, Requested: requested,
			Reason: "the Go module proxy does not serve " + c.Module + "@" + version + ": " + reason}
	}
	return Resolved{Component: c.Name, Module: c.Module, Requested: requested,
		Version: info.Version, Sum: info.Sum, Dir: info.Dir}, nil
}
