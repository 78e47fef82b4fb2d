package firehose

import (
	"context"
	"strings"
	"testing"
	"time"
)

// newLimitedEnv is newTestEnv with an active partition limit of limit.
func newLimitedEnv(t *testing.T, limit int) *testEnv {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	env := &testEnv{stream: loadVotesStream(t), lakeDir: t.TempDir(), stateDir: t.TempDir()}
	env.startWith(t, Options{
		Processors:           map[string]ProcessorFunc{"TransformFunction": echoProcessor},
		ActivePartitionLimit: limit,
	})
	return env
}

// hourOf returns a cast_at in hour h of election day, so that each h is
// its own partition of the votes prefix.
func hourOf(h int) time.Time {
	return time.Date(2024, 11, 5, h, 30, 0, 0, time.UTC)
}

func TestRecordPastActivePartitionLimitGoesToErrorPrefix(t *testing.T) {
	env := newLimitedEnv(t, 2)
	// Hours 8 and 9 open the two partitions; hour 10 would open a third.
	// The last record is hour 8 again, whose partition is still open.
	env.putBatch(t,
		packRecord(t, 0, 2, hourOf(8)),
		packRecord(t, 2, 2, hourOf(9)),
		packRecord(t, 4, 2, hourOf(10)),
		packRecord(t, 6, 2, hourOf(8)),
	)
	if err := env.server.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	stats := env.server.Stats()
	if stats.RowsDelivered != 6 {
		t.Errorf("RowsDelivered = %d, want 6 from hours 8 and 9", stats.RowsDelivered)
	}
	if got := stats.ErrorRecords[ErrorActivePartitionExceeded]; got != 1 {
		t.Errorf("ErrorRecords[%s] = %d, want 1", ErrorActivePartitionExceeded, got)
	}
	docs := env.errorDocuments(t, ErrorActivePartitionExceeded)
	if len(docs) != 1 {
		t.Fatalf("got %d %s documents, want 1", len(docs), ErrorActivePartitionExceeded)
	}
	if msg, _ := docs[0]["errorMessage"].(string); !strings.Contains(msg, "hour=10/") {
		t.Errorf("errorMessage = %q, want it to name the prefix of hour 10", msg)
	}
	if keys := env.lakeFiles(t, "votes/election_id="+testElection+"/dt=2024-11-05/hour=10/"); len(keys) != 0 {
		t.Errorf("objects under hour=10: %v, want none", keys)
	}
}

func TestDeliveredPartitionStopsBeingActive(t *testing.T) {
	env := newLimitedEnv(t, 1)
	env.putBatch(t, packRecord(t, 0, 2, hourOf(8)))
	if err := env.server.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	// The hour 8 buffer was written by Flush, so hour 9 may open one.
	env.putBatch(t, packRecord(t, 2, 2, hourOf(9)))
	if err := env.server.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	stats := env.server.Stats()
	if stats.RowsDelivered != 4 {
		t.Errorf("RowsDelivered = %d, want 4", stats.RowsDelivered)
	}
	if got := stats.ErrorRecords[ErrorActivePartitionExceeded]; got != 0 {
		t.Errorf("ErrorRecords[%s] = %d, want 0", ErrorActivePartitionExceeded, got)
	}
}

func TestActivePartitionLimitDefaultsTo500(t *testing.T) {
	env := newLimitedEnv(t, 0)
	st := env.server.streams[env.stream.Name]
	if st.activePartitionLimit != DefaultActivePartitionLimit || DefaultActivePartitionLimit != 500 {
		t.Errorf("active partition limit = %d (DefaultActivePartitionLimit %d), want 500", st.activePartitionLimit, DefaultActivePartitionLimit)
	}
}
