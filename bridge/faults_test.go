package bridge

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/votestream/votestream/firehose"
	"github.com/votestream/votestream/internal/broker"
	"github.com/votestream/votestream/internal/vote"
)

// waitForNoLag waits until group has committed every record of the votes topic.
func waitForNoLag(t *testing.T, cluster *kfake.Cluster, group string) {
	t.Helper()
	admin := newClient(t, cluster)
	waitFor(t, "group "+group+" to commit every record", func() bool {
		lag, err := broker.GroupLag(context.Background(), admin, group, vote.VotesTopic)
		return err == nil && lag == 0
	})
}

// scrape returns the body of GET url.
func scrape(t *testing.T, url string) (status int, body string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, string(data)
}

// metricValue returns the value of the sample named series (name with its
// labels, as the text format writes them) in a /metrics body.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	for line := range strings.Lines(body) {
		rest, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		value, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			t.Fatalf("metric %s: value %q: %v", series, rest, err)
		}
		return value
	}
	t.Errorf("metric %s is missing from /metrics", series)
	return 0
}

func TestBridgeUnderFirehoseFaults(t *testing.T) {
	cluster := newCluster(t, 4)
	producer := newClient(t, cluster)
	const votes = 3000
	produceVotes(t, producer, 0, votes/2)
	bad := produceBad(t, producer)
	produceVotes(t, producer, votes/2, votes)

	lf := startLocalFirehose(t, firehose.Faults{Seed: 3, FailureRate: 0.2, ThrottleRate: 0.15, DropResponseRate: 0.1})
	cfg := testConfig(t, cluster, lf.client)
	cfg.MaxBatchRecords = 50
	cfg.MaxBatchBytes = 64 * 1024
	cfg.CallTimeout = 5 * time.Second
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(b.Collector())
	ops := httptest.NewServer(b.Handler(reg))
	defer ops.Close()

	stop := runBridge(t, b)
	waitForNoLag(t, cluster, DefaultGroup)
	if status, body := scrape(t, ops.URL+"/readyz"); status != http.StatusOK {
		t.Errorf("/readyz while consuming = %d %q, want 200", status, body)
	}
	if status, _ := scrape(t, ops.URL+"/healthz"); status != http.StatusOK {
		t.Errorf("/healthz while consuming = %d, want 200", status)
	}
	_, metrics := scrape(t, ops.URL+"/metrics")
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	duplicates := assertAllDelivered(t, lf.deliveredVotes(t), votes)
	t.Logf("duplicates in the lake: %d; bridge stats %+v; injected %+v", duplicates, b.Stats(), lf.server.FaultStats())
	if got := b.Stats().DeadLettered; got != int64(len(bad)) {
		t.Errorf("DeadLettered = %d, want %d", got, len(bad))
	}
	if lf.server.FaultStats().DroppedResponses > 0 && duplicates == 0 {
		t.Error("responses were dropped after their records were accepted, yet the lake holds no duplicate")
	}

	// The metrics show the retries and throttles that the faults caused.
	injected := lf.server.FaultStats()
	checks := []struct {
		series string
		min    float64
	}{
		{`votestream_bridge_retries_total`, 1},
		{`votestream_bridge_throttles_total{scope="call"}`, 1},
		{`votestream_bridge_throttles_total{scope="entry"}`, 1},
		{`votestream_bridge_failed_entries_total{error_code="InternalFailure"}`, 1},
		{`votestream_bridge_failed_entries_total{error_code="ServiceUnavailableException"}`, 1},
		{`votestream_bridge_put_failed_calls_total`, float64(injected.ThrottledCalls + injected.DroppedResponses)},
		{`votestream_bridge_records_in_total`, votes + float64(len(bad))},
		{`votestream_bridge_dead_lettered_total`, float64(len(bad))},
		{`votestream_bridge_put_call_records_count`, 1},
	}
	for _, c := range checks {
		if got := metricValue(t, metrics, c.series); got < c.min {
			t.Errorf("%s = %v, want at least %v", c.series, got, c.min)
		}
	}
	if packed, unpacked := metricValue(t, metrics, "votestream_bridge_billed_bytes_total"), metricValue(t, metrics, "votestream_bridge_unpacked_billed_bytes_total"); packed <= 0 || packed >= unpacked {
		t.Errorf("billed bytes packed %v, unpacked %v; want 0 < packed < unpacked", packed, unpacked)
	}
	if !strings.Contains(metrics, `votestream_bridge_commit_lag_records{partition="0"}`) {
		t.Error("/metrics has no commit lag for partition 0")
	}

	if status, _ := scrape(t, ops.URL+"/readyz"); status != http.StatusServiceUnavailable {
		t.Errorf("/readyz after Run returned = %d, want 503", status)
	}
}

func TestTwoBridgesOneStoppedMidReplay(t *testing.T) {
	cluster := newCluster(t, 6)
	producer := newClient(t, cluster)
	lf := startLocalFirehose(t, firehose.Faults{Seed: 5, FailureRate: 0.05})

	newBridge := func() *Bridge {
		cfg := testConfig(t, cluster, lf.client)
		cfg.MaxBatchRecords = 50
		cfg.MaxBatchBytes = 64 * 1024
		b, err := New(cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return b
	}
	first, second := newBridge(), newBridge()
	stopFirst := runBridge(t, first)
	stopSecond := runBridge(t, second)

	// Produce in waves until both bridges have delivered, stop the first
	// mid-replay, and produce as much again for the second.
	const perWave = 100
	produced := 0
	waitFor(t, "both bridges to deliver", func() bool {
		if first.Stats().VotesSent > 0 && second.Stats().VotesSent > 0 {
			return true
		}
		produceVotes(t, producer, produced, produced+perWave)
		produced += perWave
		time.Sleep(20 * time.Millisecond)
		return false
	})
	produceVotes(t, producer, produced, produced+10*perWave)
	produced += 10 * perWave
	if err := stopFirst(); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	t.Logf("first bridge stopped with %+v", first.Stats())
	for range 10 {
		produceVotes(t, producer, produced, produced+perWave)
		produced += perWave
		time.Sleep(20 * time.Millisecond)
	}

	waitForNoLag(t, cluster, DefaultGroup)
	if err := stopSecond(); err != nil {
		t.Fatalf("second Run: %v", err)
	}
	assertAllDelivered(t, lf.deliveredVotes(t), produced)
	assertCommittedAtEnd(t, cluster, DefaultGroup)
}
