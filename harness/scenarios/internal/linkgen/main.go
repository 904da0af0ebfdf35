// Command linkgen writes harness/scenarios/zz_link.go: a blank import of
// every scenario package under harness/scenarios. Run it with
// `go generate ./harness/scenarios` from the repository root, or from
// harness/scenarios itself.
package main

import (
	"fmt"
	"os"

	"github.com/relapse-dev/relapse/harness/scenarios/internal/linklist"
)

func main() {
	if err := linklist.Write("."); err != nil {
		fmt.Fprintln(os.Stderr, "linkgen:", err)
		os.Exit(1)
	}
}
