// Package local is the node provider for the machine relapse itself runs on.
//
// Commands are plain child processes in their own process group, killed with
// the group when their context ends and when relapse dies (parent-death
// signal), so a hung command never outlives the experiment that started it.
package local
