// Package bisect finds the version or commit where a bug came in or went
// away, by running the scenario as an experiment at each step - the way
// syzbot bisects kernel bugs, for container runtimes.
//
// Over releases, the candidates are the versions the Go module proxy lists
// for the component and its pinned versions (this proxy is a partial
// mirror: its list lacks versions it still serves), ordered by semantic
// version. Every version the user labels good or bad is checked first;
// then each pair of neighbouring labels that disagree is narrowed by binary
// search. A boundary is "introduced" where good comes before bad and
// "fixed" where bad comes before good, so one call can find both.
//
// Over commits (Source), a private clone of the checkout is bisected with
// `git bisect run`, which calls relapse itself at each commit: exit 0 for
// the older term, 1 for the newer, 125 to skip.
//
// Each step is a full experiment with the verdict rule: REPRODUCED is bad,
// NOT REPRODUCED good, INCONCLUSIVE a skip (a version that does not build
// here, a racy step that did not decide); racy bugs get as many
// repetitions per step as their sampling needs. The result page lists
// every step with its verdict, rate, cost and report.
package bisect
