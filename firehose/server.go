package firehose

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// ProcessorFunc is a Firehose transformation function: the handler of a
// Lambda processor, called in-process.
type ProcessorFunc func(ctx context.Context, event events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error)

// Options configures a Server.
type Options struct {
	// LakeDir is the directory delivery writes objects to, as LakeDir/<bucket>/<key>.
	// Required unless S3 is set.
	LakeDir string

	// S3 receives the objects in place of LakeDir when it is set: each
	// stream writes to its template bucket with PutObject. NewS3Client
	// returns a client for any S3-compatible endpoint.
	S3 S3PutObjectAPI

	// StateDir contains the spool of accepted records that are not yet
	// delivered, one subdirectory per stream. Required. Reusing it after a
	// crash or a Close without Flush delivers the records left in it.
	StateDir string

	// Processors maps the logical id of a Lambda function in the template
	// (such as TransformFunction) to the function to call in its place.
	// NewServer fails when a stream's processor has no entry, unless
	// AllowMissingProcessors is set.
	Processors map[string]ProcessorFunc

	// AllowMissingProcessors lets a stream whose processor has no entry in
	// Processors pass records through unchanged and without partition keys.
	// For tests only: with dynamic partitioning on partitionKeyFromLambda
	// keys, every record then goes to the partitioning-failed error prefix.
	AllowMissingProcessors bool

	// Logger receives starts, stops, retries and every error that delivery
	// handles. Nil discards the logs.
	Logger *slog.Logger

	// Now returns the current time, for arrival timestamps, prefixes and
	// object names. Nil means time.Now.
	Now func() time.Time

	// BufferOverride replaces the template's buffering hints where its
	// fields are non-zero, such as a 1 s interval for a demo.
	BufferOverride BufferOverride

	// Faults injects throttling, failed entries, latency and dropped
	// responses into PutRecordBatch. The zero value injects none.
	Faults Faults

	// ActivePartitionLimit is the number of delivery buffers (evaluated
	// prefixes) that a stream with dynamic partitioning keeps open at once.
	// A record that would open one more goes to the activePartitionExceeded
	// error output type. 0 means DefaultActivePartitionLimit.
	ActivePartitionLimit int

	// AcknowledgeOnly makes PutRecord and PutRecordBatch check and accept
	// records, count them in Stats, and then discard them, so nothing is
	// spooled, processed or delivered. It is a sink for measuring a client,
	// such as the bridge benchmark, and loses every record.
	AcknowledgeOnly bool
}

// DefaultActivePartitionLimit is Firehose's default quota of active
// partitions per delivery stream. AWS raises it to at most 5,000 on request.
const DefaultActivePartitionLimit = 500

// BufferOverride contains buffering hints that replace the template's. A zero
// field keeps the template's value.
type BufferOverride struct {
	// ProcessorSize (bytes) and ProcessorInterval replace the Lambda
	// processor's BufferSizeInMBs and BufferIntervalInSeconds.
	ProcessorSize     int64
	ProcessorInterval time.Duration

	// DeliverySize (bytes of processed records) and DeliveryInterval
	// replace the destination's BufferingHints.
	DeliverySize     int64
	DeliveryInterval time.Duration
}

// Stats counts what the server has done since it started, over all streams.
type Stats struct {
	// RecordsAccepted counts records acknowledged to PutRecord and
	// PutRecordBatch callers, plus records recovered from the spool.
	RecordsAccepted int64
	// RecordsProcessed counts records with a valid processor result (Ok,
	// Dropped or ProcessingFailed), or passed through without a processor.
	RecordsProcessed int64
	// RecordsDropped counts records the processor returned as Dropped.
	RecordsDropped int64
	// RowsDelivered counts rows (JSON objects) written in delivered objects;
	// without format conversion it counts records.
	RowsDelivered int64
	// ObjectsWritten counts objects written under the stream prefix.
	ObjectsWritten int64
	// ErrorRecords counts records written to the error prefix, by error
	// output type (ErrorProcessingFailed and the others).
	ErrorRecords map[string]int64
	// ErrorObjectsWritten counts objects written under the error prefix.
	ErrorObjectsWritten int64
}

// maxBufferedPerStream bounds the bytes of processed records held in
// delivery buffers per stream. Past it, the largest partition buffer is
// written early. It keeps memory bounded when many partitions are active at
// once; Firehose itself has no such rule.
const maxBufferedPerStream = 256 << 20

// Server is a local Amazon Data Firehose: an http.Handler for the Firehose
// JSON API, and the buffering, processing, format conversion and delivery
// behind it. Create it with NewServer and stop it with Close.
type Server struct {
	opts    Options
	logger  *slog.Logger
	now     func() time.Time
	created time.Time

	streams map[string]*streamState // by stream name
	names   []string                // sorted stream names

	// closeMu is held for reading by every PutRecord call and for writing
	// by Close, so that no put races with the shutdown of the workers.
	closeMu sync.RWMutex
	closed  bool

	stopTickers chan struct{}
	tickers     sync.WaitGroup
	workers     sync.WaitGroup
	cancel      context.CancelFunc

	// faults is nil when Options.Faults injects nothing.
	faults *faultInjector
}

// NewServer creates a server for streams, recovers the records left in the
// spool under opts.StateDir, and starts the timers and workers that deliver
// them.
func NewServer(streams []Stream, opts Options) (*Server, error) {
	if opts.LakeDir == "" && opts.S3 == nil || opts.StateDir == "" {
		return nil, errors.New("firehose: Options.StateDir and either Options.LakeDir or Options.S3 are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := opts.Faults.validate(); err != nil {
		return nil, fmt.Errorf("firehose: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:        opts,
		logger:      opts.Logger,
		now:         opts.Now,
		created:     opts.Now(),
		streams:     map[string]*streamState{},
		stopTickers: make(chan struct{}),
		cancel:      cancel,
	}
	if opts.AcknowledgeOnly {
		s.logger.Info("firehose: acknowledge-only mode: accepted records are discarded")
	}
	if opts.Faults.Enabled() {
		s.faults = newFaultInjector(opts.Faults)
		s.logger.Warn("firehose: fault injection on", "faults", fmt.Sprintf("%+v", opts.Faults))
	}

	for _, cfg := range streams {
		if _, dup := s.streams[cfg.Name]; dup {
			cancel()
			return nil, fmt.Errorf("firehose: stream %s is defined twice", cfg.Name)
		}
		st, err := s.newStream(cfg)
		if err != nil {
			cancel()
			s.closeSpools()
			return nil, fmt.Errorf("firehose: stream %s: %w", cfg.Name, err)
		}
		s.streams[cfg.Name] = st
		s.names = append(s.names, cfg.Name)
	}
	sort.Strings(s.names)

	for _, st := range s.streams {
		s.start(ctx, st)
	}
	return s, nil
}

func (s *Server) newStream(cfg Stream) (*streamState, error) {
	st := &streamState{
		cfg:              cfg,
		srv:              s,
		deliverySize:     cfg.BufferSize,
		deliveryInterval: cfg.BufferInterval,
		partitions:       map[string]*partitionBuffer{},
		errorRecords:     map[string]*atomic.Int64{},
	}
	for _, typ := range []string{ErrorProcessingFailed, ErrorPartitioningFailed, ErrorFormatConversionFailed, ErrorActivePartitionExceeded} {
		st.errorRecords[typ] = new(atomic.Int64)
	}
	st.idle = sync.NewCond(&st.mu)

	if cfg.Processor != nil {
		st.procSize = cfg.Processor.BufferSize
		st.procInterval = cfg.Processor.BufferInterval
		st.process = s.opts.Processors[cfg.Processor.FunctionLogicalID]
		if st.process == nil && !s.opts.AllowMissingProcessors {
			return nil, fmt.Errorf("no ProcessorFunc for its Lambda processor %s: add Options.Processors[%q]", cfg.Processor.FunctionLogicalID, cfg.Processor.FunctionLogicalID)
		}
	} else {
		// Without a processor, records go to delivery in batches of the
		// Lambda processor's default size and interval.
		st.procSize = 1 << 20
		st.procInterval = time.Second
	}

	override := s.opts.BufferOverride
	if override.ProcessorSize > 0 {
		st.procSize = override.ProcessorSize
	}
	if override.ProcessorInterval > 0 {
		st.procInterval = override.ProcessorInterval
	}
	if override.DeliverySize > 0 {
		st.deliverySize = override.DeliverySize
	}
	if override.DeliveryInterval > 0 {
		st.deliveryInterval = override.DeliveryInterval
	}
	st.activePartitionLimit = s.opts.ActivePartitionLimit
	if st.activePartitionLimit <= 0 {
		st.activePartitionLimit = DefaultActivePartitionLimit
	}
	if st.procSize <= 0 || st.deliverySize <= 0 {
		return nil, errors.New("buffer sizes must be positive")
	}

	if cfg.Conversion != nil {
		conv, err := newConverter(cfg.Conversion.Columns)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", cfg.Conversion.TableLogicalID, err)
		}
		st.conv = conv
		if st.writerProps, err = parquetProperties(cfg.Conversion.Compression); err != nil {
			return nil, err
		}
	}

	sp, recovered, err := openSpool(filepath.Join(s.opts.StateDir, "spool", cfg.Name))
	if err != nil {
		return nil, err
	}
	st.spool = sp
	workers := min(max(runtime.GOMAXPROCS(0), 1), 4)
	st.work = make(chan []pendingRecord, workers)
	st.workers = workers

	if len(recovered) > 0 {
		s.logger.Info("firehose: re-buffering records recovered from the spool", "stream", cfg.Name, "records", len(recovered))
		st.accepted.Add(int64(len(recovered)))
		st.mu.Lock()
		for _, r := range recovered {
			batch := st.addLocked(pendingRecord{ref: r.ref, arrival: r.arrival, data: r.data})
			if batch != nil {
				st.ready = append(st.ready, batch)
			}
		}
		st.mu.Unlock()
	}
	return st, nil
}

func (s *Server) start(ctx context.Context, st *streamState) {
	for range st.workers {
		s.workers.Add(1)
		go func() {
			defer s.workers.Done()
			for batch := range st.work {
				st.processBatch(ctx, batch)
				st.batchDone()
			}
		}()
	}

	s.tickers.Add(1)
	go func() {
		defer s.tickers.Done()
		// Recovered batches go to the workers from here, so that NewServer
		// does not block on a full work queue.
		st.mu.Lock()
		ready := st.ready
		st.ready = nil
		st.mu.Unlock()
		for _, batch := range ready {
			st.work <- batch
		}

		period := min(st.procInterval, st.deliveryInterval) / 4
		period = min(max(period, 10*time.Millisecond), time.Second)
		ticker := time.NewTicker(period)
		defer ticker.Stop()
		for {
			select {
			case <-s.stopTickers:
				return
			case <-ticker.C:
				st.tick(ctx)
			}
		}
	}()
	s.logger.Info("firehose: stream started", "stream", st.cfg.Name, "bucket", st.cfg.Bucket,
		"processor_buffer_bytes", st.procSize, "processor_interval", st.procInterval,
		"delivery_buffer_bytes", st.deliverySize, "delivery_interval", st.deliveryInterval)
}

// Streams returns the names of the server's delivery streams, sorted.
func (s *Server) Streams() []string {
	return append([]string(nil), s.names...)
}

// Flush pushes every record buffered so far through the processor, format
// conversion and delivery, without waiting for the buffer intervals. Records
// accepted while Flush runs may wait for the next flush or interval.
func (s *Server) Flush(ctx context.Context) error {
	var errs []error
	for _, name := range s.names {
		if err := s.streams[name].flush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("flush stream %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Close rejects further puts, flushes every stream, and stops the timers
// and workers. Records whose delivery failed stay in the spool for the next
// server on the same StateDir.
func (s *Server) Close(ctx context.Context) error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()

	close(s.stopTickers)
	s.tickers.Wait()
	err := s.Flush(ctx)
	for _, st := range s.streams {
		close(st.work)
	}
	s.workers.Wait()
	s.cancel()
	s.closeSpools()
	s.logger.Info("firehose: server stopped", "stats", fmt.Sprintf("%+v", s.Stats()))
	return err
}

// abandon stops the server without flushing, as a crash would, leaving the
// buffered records in the spool. Tests use it.
func (s *Server) abandon() {
	s.closeMu.Lock()
	s.closed = true
	s.closeMu.Unlock()
	close(s.stopTickers)
	s.tickers.Wait()
	s.cancel()
	for _, st := range s.streams {
		close(st.work)
	}
	s.workers.Wait()
	s.closeSpools()
}

func (s *Server) closeSpools() {
	for _, st := range s.streams {
		if st.spool != nil {
			if err := st.spool.close(); err != nil {
				s.logger.Error("firehose: close spool failed", "stream", st.cfg.Name, "error", err)
			}
		}
	}
}

// Stats returns the counters of all streams added up.
func (s *Server) Stats() Stats {
	total := Stats{ErrorRecords: map[string]int64{}}
	for _, st := range s.streams {
		total.RecordsAccepted += st.accepted.Load()
		total.RecordsProcessed += st.processed.Load()
		total.RecordsDropped += st.dropped.Load()
		total.RowsDelivered += st.rows.Load()
		total.ObjectsWritten += st.objects.Load()
		total.ErrorObjectsWritten += st.errorObjects.Load()
		for typ, n := range st.errorRecords {
			total.ErrorRecords[typ] += n.Load()
		}
	}
	return total
}

// errServerClosed is returned to puts after Close has begun.
var errServerClosed = errors.New("the server is shutting down")

// put spools records for the stream and buffers them for the processor. It
// returns a RecordId per record once the records are on disk.
func (s *Server) put(st *streamState, records [][]byte) ([]string, error) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return nil, errServerClosed
	}
	return st.put(records)
}
