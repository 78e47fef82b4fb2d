package transform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/votestream/votestream/internal/vote"
)

// Defaults of Config.
const (
	// DefaultResponseBudget leaves 100 kB of the 6,000,000-byte Lambda
	// response limit for the JSON that wraps the records.
	DefaultResponseBudget = 6_000_000 - 100_000
	// DefaultCacheSize holds the voters of several full invocations; at
	// about 100 bytes per entry it costs about 20 MB.
	DefaultCacheSize      = 200_000
	DefaultAcquireTimeout = 5 * time.Second
)

// maxLoggedFailures bounds the per-record failure messages of one invocation;
// the summary message counts the rest.
const maxLoggedFailures = 20

// Config configures a Handler.
type Config struct {
	// Pool connects to the database that holds the elections, regions,
	// candidates and voters tables. Required. The handler runs every query
	// with pgx.QueryExecModeExec, which prepares no named statement, so the
	// pool may point at RDS Proxy or PgBouncer in transaction mode.
	Pool *pgxpool.Pool

	// VoterKeySecret is the HMAC-SHA256 key of the voter_key column.
	// Required. Changing it changes every voter_key, so the lake can no
	// longer join a voter's ballots across the change.
	VoterKeySecret []byte

	// ResponseBudget is the largest response, in bytes of JSON, that Handle
	// returns. Records that do not fit are returned as ProcessingFailed.
	// Zero means DefaultResponseBudget.
	ResponseBudget int

	// CacheSize is the number of voters kept between invocations. Zero means
	// DefaultCacheSize; a negative value disables the cache.
	CacheSize int

	// AcquireTimeout bounds the wait for a pool connection, so that an
	// exhausted pool or an unreachable database fails the invocation well
	// before Firehose's timeout. Zero means DefaultAcquireTimeout.
	AcquireTimeout time.Duration

	// MSKTopic is the topic written to kafka_topic for records from an MSK
	// source, whose metadata do not name it. Empty means vote.VotesTopic.
	MSKTopic string

	// Logger receives one message per invocation and one per failed record.
	// Nil discards them.
	Logger *slog.Logger
}

// Handler transforms Firehose invocations. It is safe for concurrent use.
type Handler struct {
	pool           *pgxpool.Pool
	secret         []byte
	budget         int
	acquireTimeout time.Duration
	mskTopic       string
	logger         *slog.Logger

	voters  *voterCache
	catalog catalog
	now     func() time.Time
}

// New validates cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Pool == nil {
		return nil, errors.New("transform: Config.Pool is nil")
	}
	if len(cfg.VoterKeySecret) == 0 {
		return nil, errors.New("transform: Config.VoterKeySecret is empty: set a random key of 32 bytes or more")
	}
	h := &Handler{
		pool:           cfg.Pool,
		secret:         append([]byte(nil), cfg.VoterKeySecret...),
		budget:         cfg.ResponseBudget,
		acquireTimeout: cfg.AcquireTimeout,
		mskTopic:       cfg.MSKTopic,
		logger:         cfg.Logger,
		now:            time.Now,
	}

	if h.budget == 0 {
		h.budget = DefaultResponseBudget
	}
	if h.budget < 0 {
		return nil, fmt.Errorf("transform: Config.ResponseBudget %d is negative: set it to 0 for the default or to a size in bytes", h.budget)
	}

	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	h.voters = newVoterCache(size)

	if h.acquireTimeout == 0 {
		h.acquireTimeout = DefaultAcquireTimeout
	}
	if h.mskTopic == "" {
		h.mskTopic = vote.VotesTopic
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// Handle transforms an invocation from a Direct PUT or Kinesis source, in
// aws-lambda-go's types. Use HandleEvent as the Lambda handler when the stream
// may read MSK, because these types have no kafkaRecordValue.
func (h *Handler) Handle(ctx context.Context, event events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	resp, err := h.handle(ctx, eventFromLambda(event), lambdaRecordSize)
	if err != nil {
		return events.KinesisFirehoseResponse{}, err
	}
	out := events.KinesisFirehoseResponse{Records: make([]events.KinesisFirehoseResponseRecord, len(resp.Records))}
	for i, r := range resp.Records {
		out.Records[i] = lambdaRecord(r)
	}
	return out, nil
}

// HandleEvent transforms an invocation from any source. It returns one record
// per input record, with the same recordId and in the same order, or an error
// when the database cannot be read, which makes Firehose retry the whole batch.
func (h *Handler) HandleEvent(ctx context.Context, event Event) (Response, error) {
	return h.handle(ctx, event, recordSize)
}

// invocationCounts are the numbers logged at the end of an invocation.
type invocationCounts struct {
	records        int
	invalid        int
	overBudget     int
	rows           int
	rejected       int
	votersQueried  int
	votersCached   int
	catalogLoaded  bool
	responseBytes  int
	loggedFailures int
}

func (h *Handler) handle(ctx context.Context, event Event, sizeOf func(ResponseRecord) int) (Response, error) {
	started := h.now()
	logger := h.logger.With("invocation_id", event.InvocationID)
	counts := invocationCounts{records: len(event.Records)}

	decoded := make([]decodedRecord, len(event.Records))
	for i, r := range event.Records {
		decoded[i] = decodeRecord(r, h.mskTopic)
		if decoded[i].err != nil {
			counts.invalid++
			h.logFailure(logger, &counts, r.RecordID, decoded[i].err)
		}
	}

	voters, err := h.enrich(ctx, decoded, &counts)
	if err != nil {
		logger.Error("enrichment failed, failing the invocation so that Firehose retries it",
			"records", counts.records, "error", err)
		return Response{}, fmt.Errorf("enrich invocation %s of %d records: %w", event.InvocationID, len(event.Records), err)
	}

	resp, err := h.respond(event, decoded, voters, sizeOf, logger, &counts)
	if err != nil {
		return Response{}, err
	}

	logger.Info("invocation transformed",
		"records", counts.records,
		"ok", counts.records-counts.invalid-counts.overBudget,
		"failed_invalid", counts.invalid,
		"failed_over_budget", counts.overBudget,
		"rows", counts.rows,
		"rows_rejected", counts.rejected,
		"voters_queried", counts.votersQueried,
		"voters_cached", counts.votersCached,
		"catalog_loaded", counts.catalogLoaded,
		"response_bytes", counts.responseBytes,
		"duration", h.now().Sub(started))
	return resp, nil
}

// enrich returns the voters of all decoded ballots, from the cache or with
// one query, after loading the catalogue when it lacks an election.
func (h *Handler) enrich(ctx context.Context, decoded []decodedRecord, counts *invocationCounts) (map[voterKey]voterInfo, error) {
	electionIDs := make(map[string]bool)
	for _, d := range decoded {
		for _, b := range d.ballots {
			electionIDs[b.vote.ElectionID] = true
		}
	}
	voters := make(map[voterKey]voterInfo)
	if len(electionIDs) == 0 {
		return voters, nil
	}

	var conn *pgxpool.Conn
	acquire := func() error {
		if conn != nil {
			return nil
		}
		acquireCtx, cancel := context.WithTimeout(ctx, h.acquireTimeout)
		defer cancel()
		var err error
		if conn, err = h.pool.Acquire(acquireCtx); err != nil {
			return fmt.Errorf("acquire a database connection within %s: %w", h.acquireTimeout, err)
		}
		return nil
	}
	defer func() {
		if conn != nil {
			conn.Release()
		}
	}()

	if h.catalog.needsReload(electionIDs, h.now()) {
		if err := acquire(); err != nil {
			return nil, err
		}
		if err := h.catalog.load(ctx, conn, h.now()); err != nil {
			return nil, fmt.Errorf("load election catalogue: %w", err)
		}
		counts.catalogLoaded = true
	}

	// Voters of elections that are not loaded cannot exist, because
	// voters.election_id references elections.
	var missing []voterKey
	pending := make(map[voterKey]bool)
	for _, d := range decoded {
		for _, b := range d.ballots {
			k := voterKey{electionID: b.vote.ElectionID, voterID: b.vote.VoterID}
			if _, seen := voters[k]; seen || pending[k] {
				continue
			}
			if _, known := h.catalog.election(k.electionID); !known {
				continue
			}
			if info, ok := h.voters.get(k); ok {
				voters[k] = info
				counts.votersCached++
				continue
			}
			pending[k] = true
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return voters, nil
	}

	if err := acquire(); err != nil {
		return nil, err
	}
	found, err := lookupVoters(ctx, conn, missing)
	if err != nil {
		return nil, err
	}
	counts.votersQueried = len(missing)
	for k, info := range found {
		voters[k] = info
		h.voters.put(k, info)
	}
	return voters, nil
}

func (h *Handler) logFailure(logger *slog.Logger, counts *invocationCounts, recordID string, err error) {
	counts.loggedFailures++
	if counts.loggedFailures > maxLoggedFailures {
		return
	}
	logger.Warn("record failed, returning it as ProcessingFailed", "record_id", recordID, "error", err)
}
