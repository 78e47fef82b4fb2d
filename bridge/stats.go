package bridge

import (
	"maps"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

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
	// FailedEntriesByCode counts the same rejected records by their ErrorCode,
	// such as ServiceUnavailableException or InternalFailure.
	FailedEntriesByCode map[string]int64
	// Retries counts PutRecordBatch calls that resent records of an earlier
	// call of the same batch, whole or only its failed entries.
	Retries int64
	// ThrottledCalls counts calls that failed as a whole with
	// ServiceUnavailableException, and ThrottledEntries the entries rejected
	// with that code in calls that succeeded.
	ThrottledCalls   int64
	ThrottledEntries int64
	// DeadLettered counts invalid messages whose dead-letter write was acknowledged.
	DeadLettered int64

	// BilledBytes is the sum over accepted records of their size rounded up
	// to 5 KiB, which is how Firehose bills ingestion.
	BilledBytes int64
	// UnpackedBilledBytes is what the same envelopes would be billed if each
	// were sent as its own record.
	UnpackedBilledBytes int64
}

// counters holds the live values behind Stats and the call-size histograms
// of the metrics.
type counters struct {
	recordsIn            atomic.Int64
	votesSent            atomic.Int64
	firehoseRecords      atomic.Int64
	calls                atomic.Int64
	failedCalls          atomic.Int64
	failedEntriesRetried atomic.Int64
	retries              atomic.Int64
	throttledCalls       atomic.Int64
	throttledEntries     atomic.Int64
	deadLettered         atomic.Int64
	billedBytes          atomic.Int64
	unpackedBilledBytes  atomic.Int64

	// byCodeMu guards failedByCode.
	byCodeMu     sync.Mutex
	failedByCode map[string]int64

	// recordsPerCall and bytesPerCall observe every PutRecordBatch call, retries
	// included. They are nil in the counters of Senders used without a Bridge.
	recordsPerCall prometheus.Histogram
	bytesPerCall   prometheus.Histogram
}

func newCounters() *counters {
	return &counters{
		recordsPerCall: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "votestream_bridge_put_call_records",
			Help:    "Firehose records per PutRecordBatch call, retries included (the limit is 500).",
			Buckets: []float64{1, 5, 10, 25, 50, 100, 200, 300, 400, 500},
		}),
		bytesPerCall: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "votestream_bridge_put_call_bytes",
			Help:    "Bytes of record data per PutRecordBatch call, before base64 (the limit is 4 MiB).",
			Buckets: prometheus.ExponentialBuckets(4096, 2, 11), // 4 KiB to 4 MiB
		}),
	}
}

func (c *counters) addFailedEntry(code string) {
	c.byCodeMu.Lock()
	if c.failedByCode == nil {
		c.failedByCode = make(map[string]int64)
	}
	c.failedByCode[code]++
	c.byCodeMu.Unlock()
}

func (c *counters) observeCall(records, bytes int) {
	if c.recordsPerCall != nil {
		c.recordsPerCall.Observe(float64(records))
		c.bytesPerCall.Observe(float64(bytes))
	}
}

func (c *counters) snapshot() Stats {
	c.byCodeMu.Lock()
	byCode := maps.Clone(c.failedByCode)
	c.byCodeMu.Unlock()
	if byCode == nil {
		byCode = map[string]int64{}
	}
	return Stats{
		RecordsIn:            c.recordsIn.Load(),
		VotesSent:            c.votesSent.Load(),
		FirehoseRecords:      c.firehoseRecords.Load(),
		Calls:                c.calls.Load(),
		FailedCalls:          c.failedCalls.Load(),
		FailedEntriesRetried: c.failedEntriesRetried.Load(),
		FailedEntriesByCode:  byCode,
		Retries:              c.retries.Load(),
		ThrottledCalls:       c.throttledCalls.Load(),
		ThrottledEntries:     c.throttledEntries.Load(),
		DeadLettered:         c.deadLettered.Load(),
		BilledBytes:          c.billedBytes.Load(),
		UnpackedBilledBytes:  c.unpackedBilledBytes.Load(),
	}
}
