// Package registry is the one implementation of "a set of named things":
// scenarios, node providers and cluster providers are each a Set, with a
// lock, a duplicate check, sorted names and a lookup error that lists what
// is known.
package registry
