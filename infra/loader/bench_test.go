package loader

import (
	"context"
	"os"
	"testing"

	"github.com/votestream/votestream/internal/election"
)

// BenchmarkLoadElection loads the election file named by VOTESTREAM_BENCH_ELECTION
// (such as ../elections/us-vt-pres-2024.csv) into a fresh database once per
// iteration. Run it with -benchtime=1x: the UK file has 28.8 million voters.
func BenchmarkLoadElection(b *testing.B) {
	path := os.Getenv("VOTESTREAM_BENCH_ELECTION")
	if path == "" {
		path = "../elections/us-vt-pres-2024.csv"
	}
	e, err := election.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	day, err := election.DefaultDay(path)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		pool := newPoolB(b)
		b.StartTimer()
		stats, err := Load(context.Background(), pool, e, day, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(stats.Voters)/stats.Elapsed.Seconds(), "voters/s")
	}
}
