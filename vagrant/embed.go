// Package vagrant holds relapse's Vagrant files: the project Vagrantfile
// (parameterised by box, resources and runc) and build-box.sh, which builds
// a libvirt box offline from relapse's VM root filesystem and a Debian
// kernel. The vagrant node provider (harness/provision/vagrant) embeds both, so
// a relapse binary carries them wherever it runs.
package vagrant

import _ "embed"

// Vagrantfile is the project Vagrantfile.
//
//go:embed Vagrantfile
var Vagrantfile []byte

// BuildBoxScript is build-box.sh.
//
//go:embed build-box.sh
var BuildBoxScript []byte
