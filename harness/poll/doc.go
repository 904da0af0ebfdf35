// Package poll is relapse's wait-and-retry loop: a check called again and
// again until it is done, fails, its own bound passes or the caller's
// context ends. Waits that poll something outside the process (a socket
// appearing, processes dying, a lock freeing, a VM's migration) use it, so
// that none sleeps through a cancellation or outlasts its bound.
package poll
