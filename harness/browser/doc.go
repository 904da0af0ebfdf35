// Package browser renders relapse's pages (the dashboard, the reports, the
// bisection) in a real browser, headless Chromium, for the tests that check
// them: the page renders, no text leaves its box and nothing is wider than
// the window, and every link resolves.
//
// Chromium sees only PinnedFonts (DejaVu, which ci/deps.sh's test group
// installs), through a fontconfig file of relapse's own, without hinting,
// at one device pixel per CSS pixel and in a fixed locale: a page measures
// the same on any machine, whatever other fonts it has.
//
// Inspect loads a copy of the page with a measuring script appended (the
// page's own Content-Security-Policy, which forbids scripts, is dropped from
// that copy only) and reads the measurements back from the DOM Chromium
// dumps; Screenshot writes a PNG and Painted says how much of it is more
// than background.
package browser
