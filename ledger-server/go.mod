module github.com/loyalty-accounts/ledger-server

go 1.25.0

// Formance Ledger v2.4.12 (commit f43a7078e7e1b9f6a354307ef994431593bf57e0),
// required by pseudo-version because the module path has no /v2 suffix.
require github.com/formancehq/ledger v0.0.0-20260724091408-f43a7078e7e1

// Upstream requires its nested client module at a placeholder version.
replace github.com/formancehq/ledger/pkg/client => github.com/formancehq/ledger/pkg/client v0.0.0-20260724091408-f43a7078e7e1

// Copied from upstream's go.mod.
replace google.golang.org/genproto v0.0.0-20200423170343-7949de9c1215 => google.golang.org/genproto v0.0.0-20240903143218-8af14fe29dc1

// The module proxy here does not serve this vanity path; ./batcher is a small
// implementation of the same API (see its package doc).
replace go.vallahaye.net/batcher => ./batcher
