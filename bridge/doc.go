// Package bridge mirrors the Kafka topic of ballots into an Amazon Data
// Firehose delivery stream.
//
// A Bridge consumes the topic in a consumer group. Each valid ballot is
// wrapped in a vote.Envelope that carries its Kafka coordinates and written
// as one JSON line. A Packer groups lines that share the lake's partition
// keys (election, UTC date, UTC hour) into Firehose records, each line
// followed by a newline, because Firehose bills every record rounded up to
// 5 KiB and a ballot is a few hundred bytes. A Sender delivers batches with
// PutRecordBatch and resends what Firehose rejects. Messages that are not
// valid ballots go to a dead-letter topic with the reason in a header.
//
// Offsets are committed only up to a per-partition Watermark: offset N+1 is
// committed once every record up to N in that partition was accepted by
// Firehose or acknowledged by the dead-letter topic. Delivery is therefore
// at least once. A retried call, a revoked partition or a crash can send a
// ballot twice, and the lake removes duplicates by vote_id.
//
// # Throttling
//
// An adaptive limit bounds the PutRecordBatch calls in flight, from
// Config.MaxConcurrentCalls down to 1. A call that Firehose throttles, as a
// whole or in any entry (ServiceUnavailableException), halves the limit,
// and every call that is not throttled raises it by 1/limit, so a round of
// calls without throttling raises it by about one. A throttled sender keeps
// its slot through its backoff, so at a limit of 1 the call rate falls with
// the backoff too. Throttling therefore slows the bridge down and never
// stops it. Records read but not yet acknowledged stay below
// Config.MaxPendingRecords, because the consumer stops polling at that
// number.
//
// Retry warnings are rate-limited per kind of failure: the first is logged
// at once, and further ones at most every Sender.RetryLogInterval (10 s by
// default), each with the attribute not_logged, the count of those skipped
// since the previous one. Run logs the remainder when it stops.
//
// # Metrics and health
//
// Bridge.Collector exports, under the prefix votestream_bridge_: Kafka
// records read, votes and Firehose records accepted, PutRecordBatch calls
// and whole-call failures, retries, failed entries by error code, throttles
// by scope (call or entry), dead-lettered messages, billed bytes with and
// without packing, histograms of records and bytes per call, commit lag per
// partition, pending records and the current concurrency limit. The values
// are read at scrape time. Bridge.Handler serves them on /metrics with
// /healthz, which fails only after Run failed, and /readyz, which succeeds
// while Run consumes and a broker answers a ping.
//
// # Kafka security
//
// KafkaSecurity.Opts turns TLS (optionally with a client certificate) and
// SASL into franz-go options for Config.KafkaOpts. The SASL mechanisms are
// SCRAM-SHA-256, SCRAM-SHA-512 and AWS_MSK_IAM. AWS_MSK_IAM signs with an
// AWS credentials provider asked at every new connection, so rotated role
// credentials apply, and it requires TLS, because MSK serves IAM
// authentication only on its TLS listener.
//
// # Static membership
//
// With Config.InstanceID set, the bridge joins its group as a static member
// (KIP-345). A member restarted with the same id, such as a systemd service
// after a crash, gets its partitions back without a rebalance of the whole
// group. A static member does not leave the group on shutdown. Its
// partitions wait until the session timeout (45 s by default in franz-go)
// before the group moves them to another member, and their uncommitted
// records are then read again. Two running members must not share an id.
package bridge
