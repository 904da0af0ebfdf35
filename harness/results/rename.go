package results

import (
	"strings"
	"sync"

	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// rowCell is the cell ID an entry's row continues: the ID the cell has in
// today's matrix. Two things change a cell's ID without changing what it
// runs, and both would otherwise cut a row's history in two:
//
//   - a renamed bug: a scenario declared with the kit takes the name of
//     its upstream id, its old name kept as an alias (runc-pipe-hang is
//     containerd-5261 now), so an older night's cell names the old one;
//   - a release named by its pin alias (runc-rc93) where the kit names
//     the version itself (runc-1.0.0-rc93).
//
// The old nights' rows thus carry over to the new name (and a RELAPSE in
// them is bisected from the newest earlier NOT REPRODUCED night, whatever
// the cell was called then). Scenario names are resolved through the
// registry (scenario.Lookup follows aliases), so any renamed scenario is
// handled alike.
func rowCell(e Entry) string {
	id := e.Cell
	if old := e.Meta["scenario"]; old != "" {
		if s, err := scenario.Lookup(old); err == nil && s.Name() != old {
			id = renameSegment(id, old, s.Name())
		}
	}
	if e.Selector() != "" {
		// A selector row is keyed by its selector (rowKey), not a version.
		return id
	}
	comp, v := e.Meta["component"], strings.TrimPrefix(e.Meta["version"], "v")
	if comp == "" || v == "" {
		return id
	}
	for _, alias := range pinAliases(comp, v) {
		if renamed := renameSegment(id, comp+"-"+alias, comp+"-"+v); renamed != id {
			return renamed
		}
	}
	return id
}

// renameSegment replaces old where it is a whole dot-separated segment of
// a cell ID ("<group>.<scenario>.<dim>-<value>..."); a segment's value
// may hold dots itself (runc-1.1.14), so a match must end at the ID's end
// or at a dot.
func renameSegment(id, old, now string) string {
	for at := 0; at <= len(id)-len(old); {
		i := strings.Index(id[at:], old)
		if i < 0 {
			break
		}
		i += at
		end := i + len(old)
		if (i == 0 || id[i-1] == '.') && (end == len(id) || id[end] == '.') {
			return id[:i] + now + id[end:]
		}
		at = i + 1
	}
	return id
}

var (
	pinsMu sync.Mutex
	// pinned maps a component to its pins (versions/pins/*.pins), read once.
	pinned = map[string][]versions.Pin{}
)

// pinAliases are the short names the pin file of comp gives version v
// ("rc93" for 1.0.0-rc93); none for a component without a pin file.
func pinAliases(comp, v string) []string {
	pinsMu.Lock()
	defer pinsMu.Unlock()
	pins, ok := pinned[comp]
	if !ok {
		pins, _ = versions.LoadPins(comp)
		pinned[comp] = pins
	}
	var aliases []string
	for _, p := range pins {
		if strings.TrimPrefix(p.Version, "v") == v && p.Alias != v {
			aliases = append(aliases, p.Alias)
		}
	}
	return aliases
}
