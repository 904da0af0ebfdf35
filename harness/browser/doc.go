// Package browser renders relapse's pages (the dashboard, the reports) in a
// real browser, headless Chromium, for the tests that check them: the page
// renders, nothing is wider than the window, and every link resolves.
//
// Inspect loads a copy of the page with a measuring script appended (the
// page's own Content-Security-Policy, which forbids scripts, is dropped from
// that copy only) and reads the measurements back from the DOM Chromium
// dumps; Screenshot writes a PNG and Painted says how much of it is more
// than background.
package browser
