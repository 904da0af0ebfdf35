// Package kubeletbugs holds the kubelet bugs declared with the kit
// (harness/kit): one file per bug, its fixtures in a directory beside it
// named after the bug.
package kubeletbugs
