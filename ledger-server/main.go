// Command ledger is the Formance Ledger server, built unchanged from the Go
// module proxy. This wrapper exists only because the upstream module path has
// no /v2 suffix, so its v2 tags cannot be required directly.
package main

import "github.com/formancehq/ledger/cmd"

func main() {
	cmd.Execute()
}
