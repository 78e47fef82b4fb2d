package simulate

import (
	"context"
	"fmt"
	"testing"

	"github.com/votestream/votestream/internal/vote"
)

// BenchmarkSimulateKfake measures ballots per second produced to an
// in-process kfake broker with ProducerOpts. kfake keeps everything in
// memory on the same machine, so the number bounds the simulator's own
// cost, not a real cluster's throughput.
func BenchmarkSimulateKfake(b *testing.B) {
	// One region and two candidates with b.N votes in all.
	results := fmt.Sprintf("region_code,region_name,candidate,party,votes\nR1,North,Ada,Blue,%d\nR1,North,Bo,Red,%d\n", b.N/2, b.N-b.N/2)
	e := writeElection(b, "bench", results, "")
	cluster := newCluster(b, 12, vote.VotesTopic)
	client := newClient(b, cluster, ProducerOpts()...)

	b.ResetTimer()
	result, err := Run(context.Background(), Config{Election: e, Day: testDay, Seed: 1, Client: client})
	b.StopTimer()
	if err != nil {
		b.Fatalf("Run: %v", err)
	}
	if result.Sent != int64(b.N) {
		b.Fatalf("Sent = %d, want %d", result.Sent, b.N)
	}
	b.ReportMetric(float64(result.Sent)/result.Elapsed.Seconds(), "ballots/s")
}
