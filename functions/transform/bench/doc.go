// Package bench measures the transformation Lambda on a synthetic election.
// It compares enrichment throughput with one voter query per invocation (the
// transform.Handler as built) against one query per ballot, with a cold and a
// warm voter cache. It also times Firehose's Parquet conversion of the
// handler's output.
//
// Run loads the election into PostgreSQL with infra/loader, packs its ballots
// into Firehose records as the bridge does, and times each stage on one
// goroutine, one invocation at a time, as one Lambda instance runs. `votestream
// bench transform` prints its Result, and the Benchmark functions in this
// package measure the same stages with `go test -bench`.
package bench
