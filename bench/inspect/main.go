// Command inspect reads the linkage of every binary named on its command
// line the way staticCheck does (linkage.Inspect and the scratch verdict),
// printing one line per binary. The benchmark harness builds it once and
// times it against a `file` loop over the same binaries, so compile time is
// not counted.
//
// It exits 1 when a binary cannot be read or a Linux binary would not run on
// scratch.
package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/magepack/magepack/tasks/linkage"
)

func main() {
	w := bufio.NewWriter(os.Stdout)
	failed := false
	for _, path := range os.Args[1:] {
		rep, err := linkage.Inspect(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
			continue
		}
		verdict := "ok"
		if err := linkage.CheckScratch(rep); err != nil {
			verdict = "FAIL: " + err.Error()
			failed = true
		}
		fmt.Fprintf(w, "%s: %s %s/%s, %s: %s\n", path, rep.Format, rep.OS, rep.Arch, rep.Summary(), verdict)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		failed = true
	}
	if failed {
		os.Exit(1)
	}
}
