// Package poll is the one wait-and-retry loop of relapse: a check called
// again and again until it is done, fails, its own bound passes or the
// caller's context ends. Every wait on something outside the process (a
// socket appearing, processes dying, a lock freeing, a VM's migration) is
// one of these, so none ignores cancellation and none outlasts its bound.
package poll
