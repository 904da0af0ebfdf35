// Package vagrant is the provider of Vagrant nodes: it drives the vagrant
// CLI (box add, up, ssh-config, destroy) with the libvirt provider, using
// the files in the top-level vagrant/ folder. Without a BOX it builds
// relapse's own box offline (vagrant/build-box.sh over harness/vm's root
// filesystem and a Debian kernel); with one it uses any box the user has,
// such as an old CentOS 7 box for systemd-219.
//
// libvirtd and virtlogd are started for the run, in relapse's own network
// and mount namespaces with private copies of libvirt's configuration and
// state, so the management network (bridge, dnsmasq, iptables, ip_forward)
// and every domain, pool and log vanish with the run. Vagrant's own state
// goes to relapse's cache (VAGRANT_HOME) and the run directory.
package vagrant
