package bridge

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/votestream/votestream/firehose"
	"github.com/votestream/votestream/internal/chaos"
)

// buildVotestream builds the votestream command into a temporary directory
// and returns its path.
func buildVotestream(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the votestream binary; skipped with -short")
	}
	binary := filepath.Join(t.TempDir(), "votestream")
	cmd := exec.Command("go", "build", "-o", binary, "github.com/votestream/votestream/cmd/votestream")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build votestream: %v\n%s", err, out)
	}
	return binary
}

func TestBridgeSurvivesSIGKILL(t *testing.T) {
	binary := buildVotestream(t)
	cluster := newCluster(t, 4)
	producer := newClient(t, cluster)
	lf := startLocalFirehose(t, firehose.Faults{})

	const kills = 5
	logPath := filepath.Join(t.TempDir(), "bridge.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	awsDir := t.TempDir()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var killed atomic.Int64
	type outcome struct {
		result chaos.Result
		err    error
	}
	done := make(chan outcome, 1)
	go func() {
		result, err := chaos.Supervise(ctx, chaos.SuperviseConfig{
			Binary: binary,
			Args: []string{"bridge",
				"--brokers", strings.Join(cluster.ListenAddrs(), ","),
				"--firehose-endpoint", lf.url,
				"--stream", localStream,
				"--group-instance-id", "crash-test-bridge",
				"--metrics-listen", "",
				"--target-record-bytes", "2048",
				"--max-batch-records", "20",
				"--flush-interval", "20ms",
				"--commit-interval", "50ms",
				"--backoff-base", "5ms", "--backoff-max", "100ms",
				"--drain-timeout", "10s",
				"--log-level", "warn",
			},
			// Static credentials and no metadata endpoint: the child must not
			// look for AWS credentials anywhere but here.
			Env: []string{
				"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_EC2_METADATA_DISABLED=true",
				"AWS_CONFIG_FILE=" + filepath.Join(awsDir, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(awsDir, "credentials"),
			},
			Stderr:      logFile,
			Kills:       kills,
			Seed:        11,
			MinDelay:    100 * time.Millisecond,
			MaxDelay:    600 * time.Millisecond,
			Progress:    func() int64 { return lf.server.Stats().RecordsAccepted },
			OnKill:      func(n int) { killed.Store(int64(n)) },
			StopTimeout: 30 * time.Second,
		})
		done <- outcome{result, err}
	}()

	// Produce in waves until the supervisor has killed the bridge enough
	// times, so that every kill lands in a replay that is still going on.
	produced := 0
	waitFor(t, "five kills during the replay", func() bool {
		select {
		case got := <-done:
			t.Fatalf("Supervise ended early: %+v, %v\n%s", got.result, got.err, readFile(t, logPath))
		default:
		}
		produceVotes(t, producer, produced, produced+100)
		produced += 100
		time.Sleep(50 * time.Millisecond)
		return killed.Load() >= kills
	})
	produceVotes(t, producer, produced, produced+500)
	produced += 500

	waitForNoLag(t, cluster, DefaultGroup)
	cancel()
	got := <-done
	if got.err != nil {
		t.Errorf("Supervise: %v\nbridge log:\n%s", got.err, readFile(t, logPath))
	}
	if got.result.Kills != kills || got.result.Restarts != kills {
		t.Errorf("Supervise result %+v, want %d kills and restarts", got.result, kills)
	}

	duplicates := assertAllDelivered(t, lf.deliveredVotes(t), produced)
	assertCommittedAtEnd(t, cluster, DefaultGroup)
	t.Logf("%d votes, %d kills, %d duplicates in the lake", produced, got.result.Kills, duplicates)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return string(data)
}
