// Package transform is the Firehose transformation Lambda of the lake path.
//
// Firehose hands the function a batch of records. From a Direct PUT stream,
// which the bridge feeds, each record holds one or more newline-separated
// vote.Envelope JSON lines that share an election and an event-time hour.
// From a stream that reads MSK directly, each record holds one votes_topic
// message. The function returns one record per input record, with the same
// recordId and in the same order: an Ok record holds one glue.Row JSON line
// per ballot and the partition keys election_id, dt and hour, and a
// ProcessingFailed record goes to the stream's error prefix, from where
// `votestream redrive` can send it again.
//
// Every ballot becomes a row. A ballot whose voter or candidate is not in
// PostgreSQL becomes a row with status rejected and a reason, so that the lake
// counts every ballot Kafka received. No voter name or raw voter id reaches
// the output: the row carries voter_key, a keyed hash of the voter id, and the
// voter's region and age band.
//
// Enrichment costs one query per invocation for all voters not in the
// process's bounded cache, plus one load of the election catalogue
// (elections, candidates, regions) per process and per unknown election. A
// database error fails the whole invocation, which Firehose retries; a
// malformed record fails only itself.
package transform
