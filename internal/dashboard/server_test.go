package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/dashboard"
	"github.com/votestream/votestream/internal/vote"
)

func TestServerKeepsLatestSnapshotPerKey(t *testing.T) {
	brokers, producer := startBroker(t)

	// Published before the dashboard starts: it must read from the start.
	a := snapshot("e1", "A", 100, "2024-11-05T20:00:00.000Z", votes("c1", "Ada", "Red", 40), votes("c2", "Bo", "Blue", 30))
	b := snapshot("e1", "B", -1, "2024-11-05T20:00:01.000Z", votes("c1", "Ada", "Red", 5))
	publish(t, producer, a, b)

	srv, _ := startDashboard(t, brokers)
	waitFor(t, 10*time.Second, func() string {
		if got := srv.Summary("e1").Accepted; got != 75 {
			return fmt.Sprintf("accepted = %d, want 75 from snapshots published before start", got)
		}
		return ""
	})

	// A later snapshot of A replaces the earlier one; it is not added to it.
	a2 := snapshot("e1", "A", 100, "2024-11-05T20:00:02.000Z", votes("c1", "Ada", "Red", 41), votes("c2", "Bo", "Blue", 33))
	publish(t, producer, a2)
	waitFor(t, 10*time.Second, func() string {
		if got := srv.Summary("e1").Accepted; got != 79 {
			return fmt.Sprintf("accepted = %d, want 79 after A's second snapshot", got)
		}
		return ""
	})

	// A record that is not JSON is skipped, and the reader goes on.
	produceRecords(t, producer, &kgo.Record{Key: []byte("e1/bad"), Value: []byte("{not json")})
	c := snapshot("e1", "C", -1, "2024-11-05T20:00:03.000Z", votes("c2", "Bo", "Blue", 1))
	publish(t, producer, c)
	waitFor(t, 10*time.Second, func() string {
		if got := srv.Summary("e1").RegionsReporting; got != 3 {
			return fmt.Sprintf("regions reporting = %d, want 3 (A, B, C; the bad record skipped)", got)
		}
		return ""
	})

	// A tombstone removes its key.
	produceRecords(t, producer, &kgo.Record{Key: []byte(vote.TallyKey("e1", "B")), Value: nil})
	waitFor(t, 10*time.Second, func() string {
		s := srv.Summary("e1")
		if s.RegionsReporting != 2 || s.Accepted != 75 {
			return fmt.Sprintf("regions, accepted = %d, %d, want 2, 75 after B's tombstone", s.RegionsReporting, s.Accepted)
		}
		return ""
	})
}

// eventReader reads "summary" events from an /events response.
type eventReader struct {
	t       *testing.T
	scanner *bufio.Scanner
}

func openEvents(t *testing.T, url string) *eventReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q, want text/event-stream", ct)
	}
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 0, 64<<10), 16<<20)
	return &eventReader{t: t, scanner: scanner}
}

// next returns the next summary event, skipping keep-alive comments.
func (r *eventReader) next() dashboard.Summary {
	r.t.Helper()
	name := ""
	for r.scanner.Scan() {
		line := r.scanner.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && name == "summary":
			var s dashboard.Summary
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &s); err != nil {
				r.t.Fatalf("decode summary event: %v", err)
			}
			return s
		}
	}
	r.t.Fatalf("event stream ended: %v", r.scanner.Err())
	return dashboard.Summary{}
}

// until reads events until cond returns "" and fails after timeout.
func (r *eventReader) until(timeout time.Duration, cond func(dashboard.Summary) string) dashboard.Summary {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := r.next()
		reason := cond(s)
		if reason == "" {
			return s
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no matching event within %s: %s", timeout, reason)
		}
	}
}

func TestEventsPushChangesAndAudit(t *testing.T) {
	brokers, producer := startBroker(t)
	srv, url := startDashboard(t, brokers)
	events := openEvents(t, url+"/events?election=e1")

	first := events.next()
	if first.Accepted != 0 || first.Audit != nil {
		t.Fatalf("first event: accepted %d, audit %+v, want 0 and nil before any snapshot", first.Accepted, first.Audit)
	}

	publish(t, producer, snapshot("e1", "A", -1, "2024-11-05T20:00:00.000Z", votes("c1", "Ada", "Red", 12)))
	events.until(10*time.Second, func(s dashboard.Summary) string {
		if s.Accepted != 12 {
			return fmt.Sprintf("accepted = %d, want 12", s.Accepted)
		}
		return ""
	})

	publish(t, producer, snapshot("e1", "A", -1, "2024-11-05T20:00:01.000Z", votes("c1", "Ada", "Red", 13), votes("c2", "Bo", "Blue", 20)))
	got := events.until(10*time.Second, func(s dashboard.Summary) string {
		if s.Accepted != 33 {
			return fmt.Sprintf("accepted = %d, want 33", s.Accepted)
		}
		return ""
	})
	if got.Leader == nil || got.Leader.Name != "Bo" {
		t.Errorf("leader = %+v, want Bo", got.Leader)
	}

	srv.SetAudit(dashboard.Audit{Agree: true, LakeVotes: 33, LedgerVotes: 33, CheckedAt: time.Now()})
	audited := events.until(10*time.Second, func(s dashboard.Summary) string {
		if s.Audit == nil {
			return "audit is still unknown"
		}
		return ""
	})
	if !audited.Audit.Agree || audited.Audit.LakeVotes != 33 {
		t.Errorf("audit = %+v, want agree with 33 lake votes", audited.Audit)
	}
}

func TestEventsCoalesceBursts(t *testing.T) {
	brokers, producer := startBroker(t)
	srv, err := dashboard.New(dashboard.Config{Brokers: brokers, PushInterval: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { srv.Run(ctx); close(runDone) }()
	t.Cleanup(func() { cancel(); <-runDone })

	server := newLoopbackServer(t, srv)
	events := openEvents(t, server+"/events?election=e1")
	events.next() // the initial, empty summary; the next one comes after PushInterval

	const updates = 20
	for i := 1; i <= updates; i++ {
		publish(t, producer, snapshot("e1", "A", -1, fmt.Sprintf("2024-11-05T20:00:%02d.000Z", i), votes("c1", "Ada", "Red", int64(i))))
	}

	// The 20 snapshots arrive within one push interval, so at most a few
	// events carry them: without debouncing there would be one per snapshot.
	seen := 0
	events.until(30*time.Second, func(s dashboard.Summary) string {
		seen++
		if s.Accepted != updates {
			return fmt.Sprintf("accepted = %d, want %d", s.Accepted, updates)
		}
		return ""
	})
	if seen > 3 {
		t.Errorf("%d events for a burst of %d snapshots, want at most 3 at one event per 2 s", seen, updates)
	}
}

func TestHandlerServesEmbeddedPage(t *testing.T) {
	srv, err := dashboard.New(dashboard.Config{Brokers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	url := newLoopbackServer(t, srv)

	tests := []struct {
		path        string
		contentType string
		contains    string
	}{
		{"/", "text/html", `<canvas id="candidate-chart"`},
		{"/static/app.js", "text/javascript", "new EventSource"},
		{"/static/style.css", "text/css", ".kpis"},
		{"/static/vendor/chart.umd.min.js", "text/javascript", "Chart.js v4.6.1"},
		{"/api/summary", "application/json", `"regions_reporting":0`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(url + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
				t.Errorf("Content-Type = %q, want %s", ct, tt.contentType)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("Content-Security-Policy = %q, want default-src 'self'", csp)
			}
			if !strings.Contains(string(body), tt.contains) {
				t.Errorf("body does not contain %q", tt.contains)
			}
		})
	}

	resp, err := http.Get(url + "/missing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /missing: status = %d, want 404", resp.StatusCode)
	}
}
