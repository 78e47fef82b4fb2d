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
package bridge
