package firehose

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
)

// streamState is one running delivery stream. Records move through three
// stages: the processor buffer (pending), the processor and format
// conversion (a worker), and the delivery buffers (partitions), one per
// evaluated prefix.
type streamState struct {
	cfg   Stream
	srv   *Server
	spool *spool

	// process is nil when the stream has no processor, or when it has one
	// but Options.AllowMissingProcessors let it run without a function.
	process     ProcessorFunc
	conv        *converter
	writerProps *parquet.WriterProperties

	procSize         int64
	procInterval     time.Duration
	deliverySize     int64
	deliveryInterval time.Duration

	// mu guards the processor buffer and the count of batches in flight.
	mu           sync.Mutex
	pending      []pendingRecord
	pendingBytes int64
	pendingSince time.Time
	ready        [][]pendingRecord // recovered batches not yet queued
	inflight     int
	idle         *sync.Cond // signalled when inflight drops to zero

	work    chan []pendingRecord
	workers int

	// deliveryMu guards the delivery buffers.
	deliveryMu    sync.Mutex
	partitions    map[string]*partitionBuffer
	bufferedBytes int64

	// activePartitionLimit bounds len(partitions) with dynamic partitioning.
	activePartitionLimit int

	accepted     atomic.Int64
	processed    atomic.Int64
	dropped      atomic.Int64
	rows         atomic.Int64
	objects      atomic.Int64
	errorObjects atomic.Int64
	errorRecords map[string]*atomic.Int64 // keys fixed at creation
}

// pendingRecord is an accepted record on its way to the processor.
type pendingRecord struct {
	ref     spoolRef
	arrival time.Time
	data    []byte
}

// partitionBuffer contains the processed rows of one evaluated prefix until
// its size or interval is reached.
type partitionBuffer struct {
	prefix  string
	opened  time.Time
	bytes   int64
	rows    int64
	refs    []spoolRef
	builder *array.RecordBuilder // with format conversion
	raw     chunks               // without format conversion
}

// chunkSize is the capacity of one chunk of a partitionBuffer's raw data.
const chunkSize = 1 << 20

// chunks is a byte buffer of fixed-size pieces. Unlike one growing slice, it
// never copies what it holds again, and a delivery buffer reaches 128 MiB.
type chunks [][]byte

func (c *chunks) append(p []byte) {
	for len(p) > 0 {
		if n := len(*c); n == 0 || len((*c)[n-1]) == cap((*c)[n-1]) {
			*c = append(*c, make([]byte, 0, chunkSize))
		}
		last := &(*c)[len(*c)-1]
		take := min(len(p), cap(*last)-len(*last))
		*last = append(*last, p[:take]...)
		p = p[take:]
	}
}

func (c chunks) writeTo(w writer) error {
	for _, chunk := range c {
		if _, err := w.Write(chunk); err != nil {
			return err
		}
	}
	return nil
}

var stagePool = sync.Pool{New: func() any { return new(stage) }}

func (st *streamState) put(records [][]byte) ([]string, error) {
	if st.srv.opts.AcknowledgeOnly {
		return st.acknowledge(records), nil
	}
	now := st.srv.now()
	refs, err := st.spool.append(records, now)
	if err != nil {
		st.srv.logger.Error("firehose: spool write failed", "stream", st.cfg.Name, "records", len(records), "error", err)
		return nil, err
	}
	st.accepted.Add(int64(len(records)))

	ids := make([]string, len(records))
	var batches [][]pendingRecord
	st.mu.Lock()
	for i, data := range records {
		ids[i] = refs[i].recordID()
		if batch := st.addLocked(pendingRecord{ref: refs[i], arrival: now, data: data}); batch != nil {
			batches = append(batches, batch)
		}
	}
	st.mu.Unlock()

	// Sending blocks while every worker is busy, which slows callers down
	// instead of letting the buffers grow without bound.
	for _, batch := range batches {
		st.work <- batch
	}
	return ids, nil
}

// acknowledge counts records as accepted and returns a RecordId for each,
// for Options.AcknowledgeOnly.
func (st *streamState) acknowledge(records [][]byte) []string {
	last := st.accepted.Add(int64(len(records)))
	ids := make([]string, len(records))
	for i := range records {
		ids[i] = fmt.Sprintf("ack-%024x", last-int64(len(records)-i))
	}
	return ids
}

// addLocked adds r to the processor buffer and returns a batch to process
// when the buffer reached its size.
func (st *streamState) addLocked(r pendingRecord) []pendingRecord {
	var batch []pendingRecord
	if len(st.pending) > 0 && st.pendingBytes+int64(len(r.data)) > st.procSize {
		batch = st.cutLocked()
	}
	if len(st.pending) == 0 {
		st.pendingSince = st.srv.now()
	}
	st.pending = append(st.pending, r)
	st.pendingBytes += int64(len(r.data))
	if batch == nil && st.pendingBytes >= st.procSize {
		batch = st.cutLocked()
	}
	return batch
}

// cutLocked takes the processor buffer as a batch and counts it in flight.
func (st *streamState) cutLocked() []pendingRecord {
	batch := st.pending
	st.pending = nil
	st.pendingBytes = 0
	st.inflight++
	return batch
}

func (st *streamState) batchDone() {
	st.mu.Lock()
	st.inflight--
	if st.inflight == 0 {
		st.idle.Broadcast()
	}
	st.mu.Unlock()
}

// tick sends a processor buffer that reached its interval to the workers,
// and writes delivery buffers that reached theirs.
func (st *streamState) tick(ctx context.Context) {
	now := st.srv.now()
	st.mu.Lock()
	var batch []pendingRecord
	if len(st.pending) > 0 && now.Sub(st.pendingSince) >= st.procInterval {
		batch = st.cutLocked()
	}
	st.mu.Unlock()
	if batch != nil {
		st.work <- batch
	}

	st.deliveryMu.Lock()
	var due []*partitionBuffer
	for prefix, buf := range st.partitions {
		if now.Sub(buf.opened) >= st.deliveryInterval {
			due = append(due, st.detachLocked(prefix))
		}
	}
	st.deliveryMu.Unlock()
	for _, buf := range due {
		st.writeBuffer(ctx, buf)
	}
}

func (st *streamState) flush(ctx context.Context) error {
	st.mu.Lock()
	var batch []pendingRecord
	if len(st.pending) > 0 {
		batch = st.cutLocked()
	}
	ready := st.ready
	st.ready = nil
	st.mu.Unlock()

	for _, b := range ready {
		st.processBatch(ctx, b)
		st.batchDone()
	}
	if batch != nil {
		st.processBatch(ctx, batch)
		st.batchDone()
	}

	st.mu.Lock()
	for st.inflight > 0 {
		st.idle.Wait()
	}
	st.mu.Unlock()

	st.deliveryMu.Lock()
	buffers := make([]*partitionBuffer, 0, len(st.partitions))
	for prefix := range st.partitions {
		buffers = append(buffers, st.detachLocked(prefix))
	}
	st.deliveryMu.Unlock()

	var errs []error
	for _, buf := range buffers {
		if err := st.writeBuffer(ctx, buf); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// processBatch runs one processor batch through the processor, then sends
// each record to delivery or to the error prefix.
func (st *streamState) processBatch(ctx context.Context, batch []pendingRecord) {
	outcomes, failure, err := st.invoke(ctx, batch)
	if err != nil {
		// The context ended (shutdown): the records stay in the spool and
		// are processed again on the next start.
		st.srv.logger.Warn("firehose: processing stopped; records stay in the spool", "stream", st.cfg.Name, "records", len(batch), "error", err)
		return
	}

	var failed []errorRecord
	var acks []spoolRef
	if failure != nil {
		for _, r := range batch {
			failed = append(failed, st.processingFailed(r, failure.code, failure.message, failure.attempts))
		}
		st.writeErrors(ctx, failed)
		return
	}

	st.processed.Add(int64(len(batch)))
	stg := stagePool.Get().(*stage)
	defer stagePool.Put(stg)
	var full []*partitionBuffer
	for i, r := range batch {
		out := outcomes[i]
		switch out.Result {
		case resultDropped:
			st.dropped.Add(1)
			acks = append(acks, r.ref)
		case resultProcessingFailed:
			failed = append(failed, st.processingFailed(r, "Lambda.ProcessingFailed", "the processor returned result ProcessingFailed for this record", 1))
		default:
			buf, errRec := st.deliver(r, out.Data, out.Metadata.PartitionKeys, stg)
			if errRec != nil {
				failed = append(failed, *errRec)
			}
			if buf != nil {
				full = append(full, buf)
			}
		}
	}

	if err := st.spool.ack(acks); err != nil {
		st.srv.logger.Error("firehose: spool acknowledgement failed", "stream", st.cfg.Name, "error", err)
	}
	st.writeErrors(ctx, failed)
	for _, buf := range full {
		st.writeBuffer(ctx, buf)
	}
}

// deliver adds the processed data of record r to the delivery buffer of its
// prefix. It returns a buffer that is full and must be written, or the
// error record when the prefix or the format conversion fails.
func (st *streamState) deliver(r pendingRecord, data []byte, keys map[string]string, stg *stage) (*partitionBuffer, *errorRecord) {
	prefix, err := expandPrefix(st.cfg.Prefix, prefixValues{partitionKeys: keys, timestamp: r.arrival})
	if err != nil {
		return nil, st.partitioningFailed(r, data, err)
	}
	if !st.cfg.DynamicPartitioning && !strings.Contains(st.cfg.Prefix, "!{timestamp:") {
		// Without dynamic partitioning or a timestamp expression, Firehose
		// appends the arrival hour in UTC as yyyy/MM/dd/HH/.
		prefix += r.arrival.UTC().Format("2006/01/02/15/")
	}

	if st.conv != nil {
		if err := st.conv.parse(data, stg); err != nil {
			return nil, st.formatConversionFailed(r, data, err)
		}
	}

	st.deliveryMu.Lock()
	defer st.deliveryMu.Unlock()
	buf := st.partitions[prefix]
	if buf == nil && st.cfg.DynamicPartitioning && len(st.partitions) >= st.activePartitionLimit {
		// A partition stays active until its buffer is written, so the
		// records of prefixes already open still go to their buffers.
		return nil, st.activePartitionExceeded(r, data, prefix)
	}
	if buf == nil {
		buf = &partitionBuffer{prefix: prefix, opened: st.srv.now()}
		if st.conv != nil {
			buf.builder = array.NewRecordBuilder(memory.DefaultAllocator, st.conv.schema)
		}
		st.partitions[prefix] = buf
	}
	if st.conv != nil {
		st.conv.appendTo(buf.builder, stg)
		buf.rows += int64(stg.rows)
	} else {
		buf.raw.append(data)
		buf.rows++
	}
	buf.bytes += int64(len(data))
	buf.refs = append(buf.refs, r.ref)
	st.bufferedBytes += int64(len(data))

	if buf.bytes >= st.deliverySize {
		return st.detachLocked(prefix), nil
	}
	if st.bufferedBytes > maxBufferedPerStream {
		return st.detachLocked(st.largestLocked()), nil
	}
	return nil, nil
}

func (st *streamState) largestLocked() string {
	var largest *partitionBuffer
	for _, buf := range st.partitions {
		if largest == nil || buf.bytes > largest.bytes {
			largest = buf
		}
	}
	return largest.prefix
}

func (st *streamState) detachLocked(prefix string) *partitionBuffer {
	buf := st.partitions[prefix]
	delete(st.partitions, prefix)
	st.bufferedBytes -= buf.bytes
	return buf
}

// writeBuffer writes one delivery buffer as an object and acknowledges its
// records in the spool. On failure the records stay in the spool, so the
// next start delivers them again.
func (st *streamState) writeBuffer(ctx context.Context, buf *partitionBuffer) error {
	var key string
	var err error
	if st.conv != nil {
		key, err = st.writeParquet(ctx, buf)
	} else {
		key = objectName(buf.prefix, st.cfg.Name, st.srv.now(), "")
		err = st.writeObject(ctx, key, func(w writer) error {
			return buf.raw.writeTo(w)
		})
	}
	if err != nil {
		err = fmt.Errorf("write object under prefix %s: %w", buf.prefix, err)
		st.srv.logger.Error("firehose: delivery failed; records stay in the spool until the next start",
			"stream", st.cfg.Name, "prefix", buf.prefix, "records", len(buf.refs), "error", err)
		return err
	}

	st.objects.Add(1)
	st.rows.Add(buf.rows)
	st.srv.logger.Debug("firehose: object written", "stream", st.cfg.Name, "bucket", st.cfg.Bucket, "key", key, "rows", buf.rows)
	if err := st.spool.ack(buf.refs); err != nil {
		st.srv.logger.Error("firehose: spool acknowledgement failed", "stream", st.cfg.Name, "error", err)
	}
	return nil
}
