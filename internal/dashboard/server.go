package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/vote"
)

// Defaults of Config.
const (
	DefaultPushInterval = 250 * time.Millisecond
	DefaultKeepAlive    = 15 * time.Second
)

// Config configures New.
type Config struct {
	// Brokers are the Kafka seed brokers as host:port. Required.
	Brokers []string
	// Topic is the compacted snapshot topic; empty means vote.AggregatesTopic.
	Topic string

	// PushInterval is the minimum time between two events on one stream:
	// changes that arrive within it are sent as one event. 0 means
	// DefaultPushInterval, which allows at most 4 events per second.
	PushInterval time.Duration
	// KeepAlive is how often an idle stream sends an SSE comment so that
	// proxies and the browser keep it open. 0 means DefaultKeepAlive.
	KeepAlive time.Duration

	// Logger receives starts, stops and skipped records; nil discards them.
	Logger *slog.Logger
}

// Server keeps the latest tally snapshot of every region and serves them as
// a live page. Run reads Kafka; Handler serves HTTP. Both may be used from
// any goroutine.
type Server struct {
	cfg    Config
	logger *slog.Logger
	client *kgo.Client
	state  *state

	// done is closed when Run returns, which ends every open event stream
	// so that an http.Server can shut down.
	done    chan struct{}
	runOnce sync.Once

	fetchErrorsMu sync.Mutex
	fetchErrors   map[string]int // occurrences by error text
}

// New creates a Server and its Kafka client. It does not connect yet: the
// client connects in Run and retries brokers that are down.
func New(cfg Config) (*Server, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("dashboard: no Kafka brokers given")
	}
	if cfg.Topic == "" {
		cfg.Topic = vote.AggregatesTopic
	}
	if cfg.PushInterval <= 0 {
		cfg.PushInterval = DefaultPushInterval
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	client, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return nil, fmt.Errorf("dashboard: create Kafka client for %v: %w", cfg.Brokers, err)
	}
	return &Server{
		cfg:         cfg,
		logger:      logger,
		client:      client,
		state:       newState(),
		done:        make(chan struct{}),
		fetchErrors: map[string]int{},
	}, nil
}

// Run reads the snapshot topic from its start and keeps following it until
// ctx is done, then closes the Kafka client and ends every open event
// stream. It returns ctx.Err() after a cancellation. Call it once.
func (s *Server) Run(ctx context.Context) error {
	started := false
	s.runOnce.Do(func() { started = true })
	if !started {
		return errors.New("dashboard: Run called twice")
	}
	defer close(s.done)
	defer s.client.Close()

	s.logger.Info("dashboard: reading snapshots", "topic", s.cfg.Topic, "brokers", s.cfg.Brokers)
	err := s.consume(ctx)
	s.logger.Info("dashboard: stopped reading snapshots", "topic", s.cfg.Topic, "reason", err)
	return err
}

// SetAudit sets the "lake and ledger agree" indicator. The page shows it as
// unknown until the first call, and open pages update within PushInterval.
func (s *Server) SetAudit(a Audit) {
	s.state.setAudit(a)
}

// Summary returns the dashboard of electionID as the page would show it now;
// an empty electionID selects the most recently updated election.
func (s *Server) Summary(electionID string) Summary {
	sum, _ := s.state.summary(electionID)
	return sum
}

//go:embed static
var staticFiles embed.FS

// Handler returns the HTTP handler of the dashboard:
//
//	GET /              the page
//	GET /static/…      its script, style sheet and the vendored Chart.js
//	GET /events        server-sent events, one "summary" event per change
//	GET /api/summary   the current Summary as JSON
//
// /events and /api/summary take ?election=ID; without it they follow the
// most recently updated election. An /events stream stays open until the
// client leaves or Run returns, so an http.Server that serves it shuts down
// only after Run has returned or with a deadline.
func (s *Server) Handler() http.Handler {
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(fmt.Sprintf("dashboard: embedded static directory: %v", err))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /events", s.serveEvents)
	mux.HandleFunc("GET /api/summary", s.serveSummary)
	return securityHeaders(mux)
}

// securityHeaders forbids the page to load anything from another origin, so
// that it works, and is tested, without network access.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Chart.js sets inline styles on its canvases, hence 'unsafe-inline' for styles only.
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) serveSummary(w http.ResponseWriter, r *http.Request) {
	data, _, err := s.state.encodedSummary(r.URL.Query().Get("election"))
	if err != nil {
		s.logger.Error("dashboard: summary request failed", "error", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(data)
}

// Serve serves Handler on listener until ctx is done, then shuts the HTTP
// server down, allowing open requests up to 5 seconds. Event streams end
// when ctx is done even if Run is still running.
func (s *Server) Serve(ctx context.Context, listener net.Listener) error {
	httpServer := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.Serve(listener) }()
	s.logger.Info("dashboard: listening", "url", "http://"+listener.Addr().String()+"/")

	select {
	case err := <-serveErr:
		return fmt.Errorf("dashboard: serve HTTP on %s: %w", listener.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		s.logger.Error("dashboard: HTTP shutdown failed", "error", err)
		return fmt.Errorf("dashboard: shut down HTTP server on %s: %w", listener.Addr(), err)
	}
	s.logger.Info("dashboard: stopped listening", "address", listener.Addr().String())
	return ctx.Err()
}
