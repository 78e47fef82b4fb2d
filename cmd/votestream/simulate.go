package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/infra/elections"
	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/simulate"
	"github.com/votestream/votestream/internal/vote"
)

// brokerCheckTimeout bounds the first round trip to Kafka of simulate.
const brokerCheckTimeout = 30 * time.Second

func init() {
	register("simulate", "replay an election's official results as ballots on votes_topic", runSimulate)
}

func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("simulate", "simulate --election PATH [flags]", stderr)
	brokers := fs.String("brokers", envOr("VOTESTREAM_BROKERS", "127.0.0.1:9092"), "Kafka seed brokers, comma-separated host:port [VOTESTREAM_BROKERS]")
	electionPath := fs.String("election", envOr("VOTESTREAM_ELECTION", ""),
		fmt.Sprintf("bundled election (%v) or path of a results CSV to replay; required [VOTESTREAM_ELECTION]", elections.Names()))
	electionDate := fs.String("election-date", envOr("VOTESTREAM_ELECTION_DATE", ""), "polling day as YYYY-MM-DD; empty takes it from the election's .election.json, else the results file's modification date [VOTESTREAM_ELECTION_DATE]")
	seedText := fs.String("seed", envOr("VOTESTREAM_SEED", "1"), "seed of the replay order and cast times, a non-negative integer; the same seed replays the same ballots in the same order. Ballot ids do not depend on it, so a replay with another seed is a redelivery of the same ballots [VOTESTREAM_SEED]")
	topic := fs.String("topic", envOr("VOTESTREAM_TOPIC", vote.VotesTopic), "topic that receives the ballots [VOTESTREAM_TOPIC]")
	checkpoint := fs.String("checkpoint", envOr("VOTESTREAM_CHECKPOINT", ""), "file that records the replay position; a replay resumes from it and updates it, empty replays from the start [VOTESTREAM_CHECKPOINT]")
	region := fs.String("region", envOr("VOTESTREAM_REGION", "us-east-1"), "AWS region of MSK IAM signing, used only with --kafka-sasl-mechanism AWS_MSK_IAM [VOTESTREAM_REGION]")
	faultFlags := addFaultFlags(fs)
	envs := &envFlags{fs: fs}
	security := addKafkaSecurityFlags(fs, envs, region)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if envs.err != nil {
		return envs.err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q: simulate takes only flags", fs.Args())
	}
	if *electionPath == "" {
		return usagef("--election is required: name a bundled election (%v) or give the results CSV of an election", elections.Names())
	}
	seed, err := strconv.ParseUint(*seedText, 10, 64)
	if err != nil {
		return usagef("--seed %q is not a non-negative integer", *seedText)
	}
	faults, err := faultFlags()
	if err != nil {
		return err
	}

	path, cleanup, err := electionFile(*electionPath)
	if err != nil {
		return err
	}
	defer cleanup()
	e, err := election.Load(path)
	if err != nil {
		return err
	}
	day, err := election.DefaultDay(path)
	if err != nil {
		return err
	}
	if *electionDate != "" {
		if day.Date, err = election.ParseDate(*electionDate); err != nil {
			return usagef("--election-date: %v", err)
		}
	}

	var start int64
	if *checkpoint != "" {
		if start, err = simulate.LoadCheckpoint(*checkpoint); err != nil {
			return err
		}
	}
	total := e.TotalVotes()
	if start >= total {
		fmt.Fprintf(stderr, "simulate: the checkpoint %s records all %d ballots of %s as produced; delete it to replay again\n", *checkpoint, total, e.ID)
		return nil
	}

	kafkaOpts, err := security.opts(ctx, nil)
	if err != nil {
		return err
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(splitList(*brokers)...)}, simulate.ProducerOpts()...)
	client, err := kgo.NewClient(append(opts, kafkaOpts...)...)
	if err != nil {
		return usagef("--brokers %q: %v", *brokers, err)
	}
	defer client.Close()
	// franz-go retries an unreachable broker or a failed sign-in without
	// end, so check once that the brokers respond before producing.
	pingCtx, cancelPing := context.WithTimeout(ctx, brokerCheckTimeout)
	err = client.Ping(pingCtx)
	cancelPing()
	if err != nil {
		return setupError{fmt.Errorf("Kafka at %s did not respond within %s: %w; check the address and port, the security group, and that the --kafka-* settings match the listener (MSK: 9092 plain text, 9094 TLS, 9096 SCRAM, 9098 IAM)", *brokers, brokerCheckTimeout, err)}
	}

	if start > 0 {
		fmt.Fprintf(stderr, "simulate: resuming %s at ballot %d of %d from %s\n", e.ID, start, total, *checkpoint)
	}
	progress := newReplayProgress(stderr, start, total)
	result, err := simulate.Run(ctx, simulate.Config{
		Election:       e,
		Day:            day,
		Seed:           seed,
		Client:         client,
		Topic:          *topic,
		Start:          start,
		CheckpointPath: *checkpoint,
		Progress:       progress.update,
		Faults:         faults,
	})
	progress.finish()
	rate := float64(result.Sent) / max(result.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(stderr, "simulate: produced %d ballots of %s to %s in %s (%.0f ballots/s); next position %d of %d\n",
		result.Sent, e.ID, *topic, result.Elapsed.Round(time.Millisecond), rate, result.Position, total)
	if f := result.Faults; f != (simulate.FaultCounts{}) {
		fmt.Fprintf(stderr, "simulate: added faults: %d double votes, %d redeliveries, %d unknown voters, %d unknown candidates, %d malformed\n",
			f.DoubleVotes, f.Redeliveries, f.UnknownVoters, f.UnknownCandidates, f.Malformed)
	}
	return err
}

// replayProgress prints one progress line to a terminal, redrawn in place,
// or a line every progressLogInterval to a file or pipe.
type replayProgress struct {
	w        io.Writer
	terminal bool
	start    int64
	total    int64
	began    time.Time
	printed  time.Time
}

// progressLogInterval spaces progress lines when stderr is not a terminal,
// so that logs stay short.
const progressLogInterval = 5 * time.Second

func newReplayProgress(w io.Writer, start, total int64) *replayProgress {
	return &replayProgress{w: w, terminal: isTerminal(w), start: start, total: total, began: time.Now()}
}

// update receives the ballots acknowledged in this run; simulate.Run calls
// it at most four times a second.
func (p *replayProgress) update(sent, _ int64) {
	if !p.terminal && time.Since(p.printed) < progressLogInterval {
		return
	}
	p.printed = time.Now()
	done := p.start + sent
	percent := 100 * float64(done) / float64(p.total)
	rate := float64(sent) / max(time.Since(p.began).Seconds(), 1e-9)
	line := fmt.Sprintf("simulate: %5.1f%%  %d of %d ballots  %.0f ballots/s", percent, done, p.total, rate)
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		return
	}
	fmt.Fprintln(p.w, line)
}

// finish ends the redrawn line on a terminal.
func (p *replayProgress) finish() {
	if p.terminal && !p.printed.IsZero() {
		fmt.Fprintln(p.w)
	}
}

// addFaultFlags defines the --fault-*-rate flags on fs and returns a function
// that parses them after fs.Parse. demo can share it.
func addFaultFlags(fs *flag.FlagSet) func() (simulate.Faults, error) {
	type rateFlag struct {
		name  string
		env   string
		text  *string
		field func(*simulate.Faults) *float64
	}
	define := func(name, env, help string, field func(*simulate.Faults) *float64) rateFlag {
		text := fs.String(name, envOr(env, "0"), help+", as a fraction of ballots from 0 to 1 ["+env+"]")
		return rateFlag{name, env, text, field}
	}
	flags := []rateFlag{
		define("fault-double-vote-rate", "VOTESTREAM_FAULT_DOUBLE_VOTE_RATE", "add a second ballot of the same voter with a new vote_id, which the ledger rejects as duplicate_voter", func(f *simulate.Faults) *float64 { return &f.DoubleVoteRate }),
		define("fault-redelivery-rate", "VOTESTREAM_FAULT_REDELIVERY_RATE", "produce the same ballot message twice, which the ledger and the lake drop by vote_id", func(f *simulate.Faults) *float64 { return &f.RedeliveryRate }),
		define("fault-unknown-voter-rate", "VOTESTREAM_FAULT_UNKNOWN_VOTER_RATE", "add a ballot of an unregistered voter", func(f *simulate.Faults) *float64 { return &f.UnknownVoterRate }),
		define("fault-unknown-candidate-rate", "VOTESTREAM_FAULT_UNKNOWN_CANDIDATE_RATE", "add a ballot for a candidate id that no election has", func(f *simulate.Faults) *float64 { return &f.UnknownCandidateRate }),
		define("fault-malformed-rate", "VOTESTREAM_FAULT_MALFORMED_RATE", "add a ballot whose cast_at is not a timestamp", func(f *simulate.Faults) *float64 { return &f.MalformedRate }),
	}
	return func() (simulate.Faults, error) {
		var faults simulate.Faults
		for _, f := range flags {
			rate, err := strconv.ParseFloat(*f.text, 64)
			if err != nil || rate < 0 || rate > 1 {
				return faults, usagef("--%s %q is not a fraction from 0 to 1", f.name, *f.text)
			}
			*f.field(&faults) = rate
		}
		return faults, nil
	}
}
