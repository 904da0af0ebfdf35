package daemons

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/BurntSushi/toml"

	"github.com/relapse-dev/relapse/harness/node"
)

// ContainerdConfig is what relapse sets in a containerd's config.toml: its
// own root, state, sockets and, for some scenarios, the metrics address.
// Everything else keeps the daemon's defaults.
//
// The file's layout follows the config version the daemon itself writes
// (`containerd config default`), so a 2.x daemon reads it as it is, with no
// "Configuration migrated from version N" warning and no deprecated key:
//
//   - version 2 (containerd 1.3 to 1.7): top-level [grpc], [ttrpc], [debug]
//     and [metrics] tables; CRI is one plugin, io.containerd.grpc.v1.cri.
//   - version 3 (containerd 2.0 to 2.2): the same tables; CRI is split into
//     io.containerd.grpc.v1.cri (the CRI gRPC service kubelet talks to),
//     io.containerd.cri.v1.images and io.containerd.cri.v1.runtime, and NRI
//     (io.containerd.nri.v1.nri) is on by default.
//   - version 4 (containerd 2.3 and later): the server settings moved into
//     server plugins (io.containerd.server.v1.grpc, .ttrpc, .debug,
//     .metrics); [debug] keeps only the log level.
type ContainerdConfig struct {
	// Version is the config version the daemon writes by default.
	Version int
	Root    string
	State   string
	// GRPC is the API socket; the ttrpc socket is GRPC + ".ttrpc".
	GRPC string
	// Debug is the socket that serves pprof (goroutine dumps).
	Debug string
	// Metrics, when set, enables the Prometheus endpoint.
	Metrics string
	// CRI, when set, is the CRI plugin's tables in this layout
	// (cluster.CRIConfig's TOML): the CRI service stays on, configured so,
	// for a bug of the CRI plugin driven without a kubelet.
	CRI string
}

// Known containerd config versions: relapse writes the layout of each.
const (
	ContainerdConfigV2 = 2
	ContainerdConfigV3 = 3
	ContainerdConfigV4 = 4
)

// disabledPlugins are the plugins relapse turns off, per layout. CRI is
// kubelet's API, and relapse's containerd serves no kubelet (the cluster
// scenarios configure CRI themselves); a bug of the CRI plugin asks for it
// (cri, with its tables in ContainerdConfig.CRI). From 2.0 only its gRPC service is
// turned off: the images and runtime plugins it is built on also back the
// pod sandbox controller, which logs "failed to load plugin" at every
// start without them, while without the service nothing calls them. NRI
// (on by default from 2.0) is turned off because it would load plugins
// from the host's /opt/nri/plugins and /etc/nri/conf.d into the
// containers under test.
func disabledPlugins(version int, cri bool) []string {
	var off []string
	if !cri {
		off = append(off, "io.containerd.grpc.v1.cri")
	}
	if version != ContainerdConfigV2 {
		off = append(off, "io.containerd.nri.v1.nri")
	}
	return off
}

// Render writes the config.toml for the layout of c.Version; a version
// relapse does not know fails, naming the ones it does.
func (c ContainerdConfig) Render() (string, error) {
	doc := map[string]any{
		"version":          c.Version,
		"root":             c.Root,
		"state":            c.State,
		"disabled_plugins": disabledPlugins(c.Version, c.CRI != ""),
	}
	grpc := map[string]any{"address": c.GRPC}
	ttrpc := map[string]any{"address": c.GRPC + ".ttrpc"}
	debug := map[string]any{"address": c.Debug}
	metrics := map[string]any{"address": c.Metrics}
	switch c.Version {
	case ContainerdConfigV2, ContainerdConfigV3:
		debug["level"] = "info"
		doc["grpc"], doc["ttrpc"], doc["debug"] = grpc, ttrpc, debug
		if c.Metrics != "" {
			doc["metrics"] = metrics
		}
	case ContainerdConfigV4:
		doc["debug"] = map[string]any{"level": "info"}
		servers := map[string]any{
			"io.containerd.server.v1.grpc":  grpc,
			"io.containerd.server.v1.ttrpc": ttrpc,
			"io.containerd.server.v1.debug": debug,
		}
		if c.Metrics != "" {
			servers["io.containerd.server.v1.metrics"] = metrics
		}
		doc["plugins"] = servers
	default:
		return "", fmt.Errorf("containerd config version %d: relapse writes versions %d (containerd 1.x), %d (2.0-2.2) and %d (2.3 and later)",
			c.Version, ContainerdConfigV2, ContainerdConfigV3, ContainerdConfigV4)
	}
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(doc); err != nil {
		return "", fmt.Errorf("encoding containerd config: %w", err)
	}
	return b.String() + c.CRI, nil
}

// defaultConfigVersion is the version line of `containerd config default`.
var defaultConfigVersion = regexp.MustCompile(`(?m)^version\s*=\s*(\d+)\s*$`)

// ParseConfigVersion reads the config version from what `containerd
// config default` printed.
func ParseConfigVersion(defaultConfig string) (int, error) {
	m := defaultConfigVersion.FindStringSubmatch(defaultConfig)
	if m == nil {
		return 0, fmt.Errorf("`containerd config default` printed no `version = N` line")
	}
	return strconv.Atoi(m[1])
}

// ContainerdConfigVersion asks the containerd in binDir which config
// version it writes: the binary knows, whatever its version string says (a
// git build's pseudo-version included).
func ContainerdConfigVersion(ctx context.Context, n node.Node, binDir string) (int, error) {
	bin := filepath.Join(binDir, "containerd")
	out, err := n.Command(bin, "config", "default").Output(ctx)
	if err != nil {
		return 0, fmt.Errorf("asking %s for its config version: %w", bin, err)
	}
	v, err := ParseConfigVersion(string(out))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", bin, err)
	}
	return v, nil
}
