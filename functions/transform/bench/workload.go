package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/votestream/votestream/bridge"
	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/vote"
)

// Shape of the synthetic election: every region has every candidate, and
// the votes are spread evenly over the region/candidate rows.
const (
	syntheticRegions    = 100
	syntheticCandidates = 5
	syntheticDate       = "2024-11-05"
	// replaySeed fixes the order of the ballots, so that runs compare.
	replaySeed = 1
	// kafkaPartitions spreads the envelopes' Kafka coordinates as the demo's
	// votes_topic does.
	kafkaPartitions = 8
)

// writeSyntheticElection writes a results file, a regions file and a
// sidecar with the polling day into dir, for an election of votes votes
// named bench-<votes>, and returns the results file's path.
func writeSyntheticElection(dir string, votes int) (string, error) {
	id := fmt.Sprintf("bench-%d", votes)
	path := filepath.Join(dir, id+".csv")

	var results, regions strings.Builder
	results.WriteString("region_code,region_name,candidate,party,votes\n")
	regions.WriteString("region_code,region_name\n")
	rows := syntheticRegions * syntheticCandidates
	for r := range syntheticRegions {
		code := fmt.Sprintf("R%03d", r+1)
		name := fmt.Sprintf("Region %d", r+1)
		fmt.Fprintf(&regions, "%s,%s\n", code, name)
		for c := range syntheticCandidates {
			row := r*syntheticCandidates + c
			n := votes / rows
			if row < votes%rows {
				n++
			}
			fmt.Fprintf(&results, "%s,%s,Candidate %d,Party %d,%d\n", code, name, c+1, c+1, n)
		}
	}
	meta := fmt.Sprintf(`{"election_date":%q,"polls_open_utc":"07:00","polls_close_utc":"22:00","description":"synthetic election of votestream bench transform"}`, syntheticDate)

	files := map[string]string{
		path:                       results.String(),
		election.RegionsPath(path): regions.String(),
		election.MetaPath(path):    meta,
	}
	for name, content := range files {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			return "", fmt.Errorf("write synthetic election: %w", err)
		}
	}
	return path, nil
}

// workload is the input of the transform stages: every ballot of the
// election, once, packed into records and grouped into invocations.
type workload struct {
	// ballots are in replay order, for the one-query-per-ballot loop.
	ballots     []vote.Vote
	invocations []events.KinesisFirehoseEvent
	// inputBytes is the size of all record data, before base64.
	inputBytes int64
}

// buildWorkload replays the election's ballots in shuffled order, wraps each
// in a vote.Envelope, packs the envelopes into records of at most
// bridge.DefaultTargetRecordBytes by partition key as the bridge does, and
// closes an invocation once it holds batch ballots or more.
func buildWorkload(e *election.Election, day election.Day, batch int) (*workload, error) {
	x := e.Expand()
	total := x.Total()
	order := election.Order(total, replaySeed)
	w := &workload{ballots: make([]vote.Vote, 0, total)}

	packer := bridge.NewPacker(bridge.DefaultTargetRecordBytes)
	var pending events.KinesisFirehoseEvent
	pendingVotes := 0
	addRecords := func(records []bridge.Record) {
		for _, r := range records {
			pending.Records = append(pending.Records, events.KinesisFirehoseEventRecord{
				RecordID: fmt.Sprintf("%d", len(pending.Records)+1),
				Data:     r.Data,
			})
			w.inputBytes += int64(len(r.Data))
			pendingVotes += len(r.Sources)
			if pendingVotes >= batch {
				w.closeInvocation(&pending)
				pendingVotes = 0
			}
		}
	}

	for position, index := range order {
		at := day.CastAt(int64(position), total)
		v := x.Ballot(int64(index), 0, at)
		w.ballots = append(w.ballots, v)

		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode vote %s: %w", v.VoteID, err)
		}
		env := vote.Envelope{
			Topic:     vote.VotesTopic,
			Partition: int32(index % kafkaPartitions),
			Offset:    int64(position),
			Timestamp: vote.FormatTime(at),
			Vote:      raw,
		}
		line, err := json.Marshal(env)
		if err != nil {
			return nil, fmt.Errorf("encode envelope of vote %s: %w", v.VoteID, err)
		}
		addRecords(packer.Add(bridge.KeyOf(v.ElectionID, at), line, bridge.Source{Partition: env.Partition, Offset: env.Offset}))
	}
	addRecords(packer.Flush())
	if len(pending.Records) > 0 {
		w.closeInvocation(&pending)
	}
	return w, nil
}

func (w *workload) closeInvocation(pending *events.KinesisFirehoseEvent) {
	pending.InvocationID = fmt.Sprintf("bench-%d", len(w.invocations)+1)
	pending.DeliveryStreamArn = "arn:aws:firehose:us-east-1:000000000000:deliverystream/bench"
	pending.Region = "us-east-1"
	w.invocations = append(w.invocations, *pending)
	*pending = events.KinesisFirehoseEvent{}
}
