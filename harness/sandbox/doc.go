// Package sandbox makes the host-side enclosures relapse runs daemons in:
// network namespaces (dockerd's bridge, iptables and ip_forward changes,
// libvirt's network, a cluster's node IP stay inside) and cgroup parents
// (every container an engine starts lives under one name relapse removes).
// Each is owned by the run that made it: journaled before it exists and
// removed, with every process still inside, on every exit path; a killed
// run's are removed by the next run's repair.
package sandbox
