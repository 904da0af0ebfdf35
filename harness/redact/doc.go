// Package redact takes credentials out of what relapse publishes. Reports
// and their bundles are attached to public upstream issues, and some of
// what they hold was taken from an environment: docker inspect of a kind
// node carries the host's HTTP(S)_PROXY, kubeadm's configuration its
// bootstrap token, a command line or a log an exported variable. Text
// replaces the user information of URLs (http://user:pass@proxy), the
// values of variables whose names say they hold a credential (…TOKEN=,
// …PASSWORD=, …SECRET=, …KEY=, …AUTH…=) and of credential keys in YAML or
// JSON (token:, password:, "secret":) with Mask; Copy applies it to
// every string of a copy of a value, Files to every text file of a directory. It
// imports nothing of relapse's.
package redact
