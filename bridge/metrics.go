package bridge

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

const metricPrefix = "votestream_bridge_"

// counterDesc is one counter of Stats exported as a Prometheus counter.
type counterDesc struct {
	desc  *prometheus.Desc
	value func(Stats) int64
}

// collector exports a Bridge's Stats, call sizes, commit lag and call
// limit. Values are read at scrape time, so the metrics cost nothing
// between scrapes.
type collector struct {
	b        *Bridge
	counters []counterDesc

	failedEntries *prometheus.Desc
	throttles     *prometheus.Desc
	commitLag     *prometheus.Desc
	pending       *prometheus.Desc
	callLimit     *prometheus.Desc
}

// Collector returns a prometheus.Collector for the bridge's metrics, all
// named votestream_bridge_*. Register it once, in the registry given to
// Handler.
func (b *Bridge) Collector() prometheus.Collector {
	counter := func(name, help string, value func(Stats) int64) counterDesc {
		return counterDesc{prometheus.NewDesc(metricPrefix+name, help, nil, nil), value}
	}
	return &collector{
		b: b,
		counters: []counterDesc{
			counter("records_in_total", "Kafka records read from the votes topic, valid or not.",
				func(s Stats) int64 { return s.RecordsIn }),
			counter("votes_sent_total", "Votes in Firehose records that Firehose accepted; a resent record counts again.",
				func(s Stats) int64 { return s.VotesSent }),
			counter("firehose_records_total", "Packed Firehose records that Firehose accepted.",
				func(s Stats) int64 { return s.FirehoseRecords }),
			counter("put_calls_total", "PutRecordBatch calls, retries included.",
				func(s Stats) int64 { return s.Calls }),
			counter("put_failed_calls_total", "PutRecordBatch calls that failed as a whole and were resent whole.",
				func(s Stats) int64 { return s.FailedCalls }),
			counter("retries_total", "PutRecordBatch calls that resent records of an earlier call.",
				func(s Stats) int64 { return s.Retries }),
			counter("dead_lettered_total", "Invalid messages written to the dead-letter topic and acknowledged.",
				func(s Stats) int64 { return s.DeadLettered }),
			counter("billed_bytes_total", "Bytes Firehose bills for the accepted records: each record rounded up to 5 KiB.",
				func(s Stats) int64 { return s.BilledBytes }),
			counter("unpacked_billed_bytes_total", "Bytes Firehose would bill for the same votes sent one per record.",
				func(s Stats) int64 { return s.UnpackedBilledBytes }),
		},
		failedEntries: prometheus.NewDesc(metricPrefix+"failed_entries_total",
			"Entries that PutRecordBatch rejected by position (FailedPutCount > 0), by ErrorCode.", []string{"error_code"}, nil),
		throttles: prometheus.NewDesc(metricPrefix+"throttles_total",
			"ServiceUnavailableException responses: scope=call for whole calls, scope=entry for single entries.", []string{"scope"}, nil),
		commitLag: prometheus.NewDesc(metricPrefix+"commit_lag_records",
			"Records between the partition's high watermark at the last fetch and the offset this member last committed.", []string{"partition"}, nil),
		pending: prometheus.NewDesc(metricPrefix+"pending_records",
			"Kafka records read and not yet accepted by Firehose or the dead-letter topic.", nil, nil),
		callLimit: prometheus.NewDesc(metricPrefix+"put_concurrency_limit",
			"Current limit on PutRecordBatch calls in flight, lowered by throttling.", nil, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, counter := range c.counters {
		ch <- counter.desc
	}
	ch <- c.failedEntries
	ch <- c.throttles
	ch <- c.commitLag
	ch <- c.pending
	ch <- c.callLimit
	c.b.stats.recordsPerCall.Describe(ch)
	c.b.stats.bytesPerCall.Describe(ch)
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.b.Stats()
	for _, counter := range c.counters {
		ch <- prometheus.MustNewConstMetric(counter.desc, prometheus.CounterValue, float64(counter.value(s)))
	}
	for code, n := range s.FailedEntriesByCode {
		ch <- prometheus.MustNewConstMetric(c.failedEntries, prometheus.CounterValue, float64(n), code)
	}
	ch <- prometheus.MustNewConstMetric(c.throttles, prometheus.CounterValue, float64(s.ThrottledCalls), "call")
	ch <- prometheus.MustNewConstMetric(c.throttles, prometheus.CounterValue, float64(s.ThrottledEntries), "entry")
	for partition, lag := range c.b.CommitLag() {
		ch <- prometheus.MustNewConstMetric(c.commitLag, prometheus.GaugeValue, float64(lag), strconv.FormatInt(int64(partition), 10))
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(c.b.pendingCount()))
	ch <- prometheus.MustNewConstMetric(c.callLimit, prometheus.GaugeValue, float64(c.b.limit.current()))
	c.b.stats.recordsPerCall.Collect(ch)
	c.b.stats.bytesPerCall.Collect(ch)
}

// CommitLag returns, for each partition this member owns and has committed,
// the records between the partition's high watermark at its last fetch and
// the committed offset. Partitions without a commit since they were
// assigned are left out.
func (b *Bridge) CommitLag() map[int32]int64 {
	b.commitMu.Lock()
	defer b.commitMu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()

	lag := make(map[int32]int64)
	for p := range b.marks {
		committed, ok := b.committed[p]
		high, seen := b.highWater[p]
		if ok && seen {
			lag[p] = max(0, high-committed)
		}
	}
	return lag
}
