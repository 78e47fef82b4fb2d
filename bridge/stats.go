package bridge

import "sync/atomic"

// Stats is a snapshot of a bridge's counters since New.
type Stats struct {
	// RecordsIn counts Kafka records read from the votes topic, valid or not.
	RecordsIn int64
	// VotesSent counts envelopes in Firehose records that Firehose accepted.
	// A record resent after a timed-out call counts again.
	VotesSent int64
	// FirehoseRecords counts packed records that Firehose accepted.
	FirehoseRecords int64
	// Calls counts PutRecordBatch calls, retries included.
	Calls int64
	// FailedCalls counts calls that returned an error, so that all their
	// records were sent again.
	FailedCalls int64
	// FailedEntriesRetried counts records that a call rejected by position
	// (FailedPutCount > 0) and that were sent again.
	FailedEntriesRetried int64
	// DeadLettered counts invalid messages whose dead-letter write was acknowledged.
	DeadLettered int64

	// BilledBytes is the sum over accepted records of their size rounded up
	// to 5 KiB, which is how Firehose bills ingestion.
	BilledBytes int64
	// UnpackedBilledBytes is what the same envelopes would be billed if each
	// were sent as its own record.
	UnpackedBilledBytes int64
}

// counters holds the live values behind Stats.
type counters struct {
	recordsIn            atomic.Int64
	votesSent            atomic.Int64
	firehoseRecords      atomic.Int64
	calls                atomic.Int64
	failedCalls          atomic.Int64
	failedEntriesRetried atomic.Int64
	deadLettered         atomic.Int64
	billedBytes          atomic.Int64
	unpackedBilledBytes  atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		RecordsIn:            c.recordsIn.Load(),
		VotesSent:            c.votesSent.Load(),
		FirehoseRecords:      c.firehoseRecords.Load(),
		Calls:                c.calls.Load(),
		FailedCalls:          c.failedCalls.Load(),
		FailedEntriesRetried: c.failedEntriesRetried.Load(),
		DeadLettered:         c.deadLettered.Load(),
		BilledBytes:          c.billedBytes.Load(),
		UnpackedBilledBytes:  c.unpackedBilledBytes.Load(),
	}
}
