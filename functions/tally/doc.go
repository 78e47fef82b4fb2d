// Package tally is the live path of votestream: it records ballots from
// votes_topic in the PostgreSQL ledger, keeps running tallies beside it, and
// publishes a snapshot of each changed region to aggregated_votes_topic.
//
// The ledger rule is that the first ballot of a voter in Kafka order counts.
// votes_topic is keyed by voter id, so every ballot of a voter is in one
// partition and Kafka order is offset order. A batch is applied in one
// transaction (Ledger.Apply):
//
//   - a value that is not a valid vote is rejected as malformed;
//   - a ballot whose vote_id the ledger already holds is a redelivery and
//     changes no count; at the same topic, partition and offset it is a
//     replay of a batch and changes nothing at all;
//   - a ballot of an unregistered voter, or for a candidate not on the
//     election's ballot, is rejected with that reason;
//   - a later ballot of a voter who has voted is rejected as duplicate_voter;
//   - every other ballot is inserted into votes, and the tally tables of
//     migration 0002 are updated in the same transaction.
//
// Offsets are committed only after the transaction commits, so a crash
// replays the batch and the ledger absorbs the replay. Handler runs a batch
// from an MSK event source in Lambda; RunLocal runs the same code in a
// franz-go consumer group.
//
// RunLocal applies each poll in several transactions at once, each with the
// records of whole partitions, so that a voter's ballots are still applied in
// offset order in one transaction. It commits a partition's offsets only
// after the transaction of that partition committed and the snapshots of the
// regions it touched were published. Concurrent transactions update shared
// tally rows in one key order, and Apply runs a transaction again after a
// deadlock or serialization failure.
package tally
