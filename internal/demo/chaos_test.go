package demo

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/votestream/votestream/internal/election"
)

// buildVotestream builds the votestream command, which the demo runs as the
// child bridge that chaos kills.
func buildVotestream(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "votestream")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/votestream/votestream/cmd/votestream")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build votestream: %v\n%s", err, out)
	}
	return bin
}

// TestDemoSurvivesBridgeKillsAndFirehoseFaults kills the child bridge with
// SIGKILL five times while the local Firehose fails entries, throttles calls
// and drops responses, and checks that every ballot still counts exactly once.
func TestDemoSurvivesBridgeKillsAndFirehoseFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the votestream binary and replays 58,000 ballots")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Orange, Rutland and Washington counties.
	path := vermontSlice(t, "50017", "50021", "50023")
	official, err := election.Load(path)
	if err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(t, path, stateDir(t))
	cfg.Chaos = Chaos{
		BridgeKills:      5,
		BridgeBinary:     buildVotestream(t),
		KillDelayMin:     200 * time.Millisecond,
		KillDelayMax:     600 * time.Millisecond,
		PutFailureRate:   0.2,
		ThrottleRate:     0.1,
		DropResponseRate: 0.05,
	}
	summary, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}

	if summary.BridgeRestarts < 5 {
		t.Errorf("BridgeRestarts = %d, want at least 5", summary.BridgeRestarts)
	}
	if summary.RetriedEntries == 0 {
		t.Error("RetriedEntries = 0: the Firehose failed no entries")
	}
	if summary.DuplicatesInLake == 0 {
		t.Error("DuplicatesInLake = 0: kills and dropped responses should leave copies")
	}
	if summary.LakeVotes != official.TotalVotes() {
		t.Errorf("LakeVotes = %d, want %d", summary.LakeVotes, official.TotalVotes())
	}
	if summary.MismatchedRows != 0 {
		t.Errorf("MismatchedRows = %d: %+v", summary.MismatchedRows, summary.Diffs)
	}
	if summary.LedgerVotes != official.TotalVotes() {
		t.Errorf("LedgerVotes = %d, want %d", summary.LedgerVotes, official.TotalVotes())
	}
	if !summary.LakeMatchesLedger {
		t.Error("LakeMatchesLedger = false")
	}
	t.Logf("restarts %d, retried entries %d, lake rows %d, duplicates %d",
		summary.BridgeRestarts, summary.RetriedEntries, summary.LakeRows, summary.DuplicatesInLake)
}
