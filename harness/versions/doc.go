// Package versions turns a user's version string into an exact, buildable
// module version and builds it.
//
// Each component has a pin file (pins/<component>.pins) mapping short
// aliases to module versions. Any other version the Go module proxy serves
// is accepted in full. Resolution happens before anything on a node changes,
// so a typo fails at once with the list of known versions. Builds go into a
// cache keyed by component, version, toolchain and build tags, and carry the
// module's go.sum hash so a report identifies the source exactly.
package versions
