// Package dashboard serves votestream's live results page.
//
// A Server reads the compacted aggregated_votes_topic with a franz-go client
// that has no consumer group: it starts at the earliest offset of every
// partition and keeps the latest vote.TallySnapshot per key, so a dashboard
// started at any time shows the whole current count. Handler serves one page,
// its script and the vendored Chart.js from files embedded in the binary, and
// a server-sent events stream that pushes the aggregated Summary of one
// election on every change, at most once per Config.PushInterval.
//
// The "lake and ledger agree" indicator is not read from Kafka: the process
// that compares the two (the demo) calls SetAudit, and until then the page
// shows it as unknown.
package dashboard
