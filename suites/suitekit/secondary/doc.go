// Package secondary runs the checks of a suite that say whether relapse's
// outputs and cleanup are right, not whether the bug reproduced, so that
// a failing one never stops or skips a verdict spec. It imports nothing of
// relapse's, so suitekit's test builds a suite with it quickly
// (testdata/ordered).
package secondary
