// compose_check loads a compose file with compose-go, the library `docker compose` itself loads files
// with (the same version as docker compose v2.40.3): schema validation against the current Compose
// specification, variable interpolation, anchors and merge keys, and the model's consistency checks
// (unknown services in depends_on, undeclared volumes, ...). It prints the resolved model as JSON, as
// `docker compose config --format json` would, so containers/compose_test.ts can check it.
//
// Usage: compose_check FILE [NAME=VALUE...]  (run from the directory the file's relative paths are
// relative to). The NAME=VALUE pairs are the only variables interpolation sees (COMPOSE_PROFILES among
// them selects profiles, as docker compose does); none by default.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: compose_check FILE [NAME=VALUE...]")
		os.Exit(2)
	}
	file, err := filepath.Abs(os.Args[1])
	if err != nil {
		fail(err)
	}
	options, err := cli.NewProjectOptions(
		[]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		// Only the variables given: the result must not depend on this machine's.
		cli.WithEnv(os.Args[2:]),
		cli.WithDefaultProfiles(),
		cli.WithName("shop"),
	)
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := json.MarshalIndent(project, "", "  ")
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "compose_check: %v\n", err)
	os.Exit(1)
}
