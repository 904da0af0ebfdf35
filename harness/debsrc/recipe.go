package debsrc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// recipeOutput is what a recipe left in out/.
type recipeOutput struct {
	files   []string
	release string
}

// runRecipe lays the inputs out in a work directory, runs the recipe in the
// build root and moves its outputs into dest. The work directory (source
// tree and objects, gigabytes for a kernel) is removed afterwards; the
// build log is kept.
func runRecipe(ctx context.Context, tree, dest string, req Request, src sourceFiles, script string, log func(string, ...any)) (recipeOutput, error) {
	work := dest + ".work"
	if err := os.RemoveAll(work); err != nil {
		return recipeOutput{}, err
	}
	defer os.RemoveAll(work)
	if err := os.MkdirAll(filepath.Join(work, "patches"), 0o755); err != nil {
		return recipeOutput{}, err
	}
	for name := range src.Sums {
		if err := os.Link(filepath.Join(src.Dir, name), filepath.Join(work, name)); err != nil {
			return recipeOutput{}, fmt.Errorf("linking source file %s: %w", name, err)
		}
	}
	var names []string
	for i, p := range req.Patches {
		name := fmt.Sprintf("%02d-%s", i+1, p.Name)
		if err := os.WriteFile(filepath.Join(work, "patches", name), []byte(p.Diff), 0o644); err != nil {
			return recipeOutput{}, err
		}
		names = append(names, name)
	}
	if req.Recipe == Kernel {
		if err := os.WriteFile(filepath.Join(work, "config.fragment"), req.ConfigFragment, 0o644); err != nil {
			return recipeOutput{}, err
		}
	}
	if err := os.WriteFile(filepath.Join(work, "recipe.sh"), []byte(script), 0o755); err != nil {
		return recipeOutput{}, err
	}
	logPath := filepath.Join(dest, "build.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return recipeOutput{}, err
	}
	defer logFile.Close()
	env := []string{"DSC=" + src.DSC, "PATCHES=" + strings.Join(names, " "), "JOBS=" + jobs(),
		"PROFILES=" + Profiles, "LOCAL_VERSION=" + localVersionArg(req)}
	log("building %s in the build root (recipe %s, %s jobs; log %s)", req, req.Recipe, jobs(), logPath)
	if err := inBuildRoot(ctx, tree, work, env, "/build/recipe.sh", logFile); err != nil {
		return recipeOutput{}, err
	}
	entries, err := os.ReadDir(filepath.Join(work, "out"))
	if err != nil {
		return recipeOutput{}, fmt.Errorf("the recipe left no out/: %w", err)
	}
	var out recipeOutput
	for _, e := range entries {
		if e.Name() == "release" {
			data, err := os.ReadFile(filepath.Join(work, "out", e.Name()))
			if err != nil {
				return out, err
			}
			out.release = strings.TrimSpace(string(data))
			continue
		}
		if err := os.Rename(filepath.Join(work, "out", e.Name()), filepath.Join(dest, e.Name())); err != nil {
			return out, err
		}
		out.files = append(out.files, e.Name())
	}
	if req.Recipe == Kernel {
		if err := checkFragment(req.ConfigFragment, filepath.Join(dest, "config")); err != nil {
			return out, err
		}
	}
	return out, nil
}

// localVersionArg is the LOCAL_VERSION a Deb build is given: empty when
// unpatched, so a stock build keeps Debian's own version.
func localVersionArg(req Request) string {
	if len(req.Patches) == 0 {
		return ""
	}
	return req.LocalVersion()
}

// checkFragment fails a kernel build whose .config lost an option the
// fragment asked for: olddefconfig silently drops an option whose
// dependencies are off, and a node kernel without, say, virtio-blk would
// only show up as a boot that never finishes.
func checkFragment(want []byte, config string) error {
	got, err := os.ReadFile(config)
	if err != nil {
		return err
	}
	if missing := missingOptions(string(want), string(got)); len(missing) > 0 {
		return fmt.Errorf("the kernel's .config does not have what the fragment asks for: %s (an option's dependency is off?)", strings.Join(missing, ", "))
	}
	return nil
}

// missingOptions lists the fragment's settings ("CONFIG_X=y" and
// "# CONFIG_X is not set") that config does not have.
func missingOptions(fragment, config string) []string {
	have := map[string]bool{}
	for _, line := range strings.Split(config, "\n") {
		have[strings.TrimSpace(line)] = true
	}
	var missing []string
	for _, line := range strings.Split(fragment, "\n") {
		line = strings.TrimSpace(line)
		isSetting := strings.HasPrefix(line, "CONFIG_") || (strings.HasPrefix(line, "# CONFIG_") && strings.HasSuffix(line, " is not set"))
		if !isSetting || have[line] {
			continue
		}
		// An option switched off may be absent altogether when its menu is off.
		if name, off := strings.CutSuffix(strings.TrimPrefix(line, "# "), " is not set"); off && !strings.Contains(config, name+"=") {
			continue
		}
		missing = append(missing, line)
	}
	return missing
}
