package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	fh "github.com/aws/aws-sdk-go-v2/service/firehose"

	"github.com/votestream/votestream/firehose"
	"github.com/votestream/votestream/internal/vote"
)

// localFirehose is the local Firehose server on 127.0.0.1 with one stream
// that writes accepted records unchanged under votes/ in a lake directory.
type localFirehose struct {
	server  *firehose.Server
	url     string
	lakeDir string
	client  *fh.Client
}

const localStream = "votestream-votes"

func startLocalFirehose(t *testing.T, faults firehose.Faults) *localFirehose {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	stream := firehose.Stream{
		LogicalID:         "VotesDeliveryStream",
		Name:              localStream,
		Bucket:            "lake",
		Prefix:            "votes/",
		ErrorOutputPrefix: "errors/!{firehose:error-output-type}/",
		BufferSize:        1 << 20,
		BufferInterval:    time.Hour,
	}
	lf := &localFirehose{lakeDir: t.TempDir()}
	server, err := firehose.NewServer([]firehose.Stream{stream}, firehose.Options{
		LakeDir:        lf.lakeDir,
		StateDir:       t.TempDir(),
		BufferOverride: firehose.BufferOverride{ProcessorInterval: 100 * time.Millisecond, DeliveryInterval: 200 * time.Millisecond},
		Faults:         faults,
	})
	if err != nil {
		t.Fatalf("start local Firehose: %v", err)
	}
	lf.server = server
	httpServer := httptest.NewServer(server)
	t.Cleanup(func() { server.Close(context.Background()) })
	t.Cleanup(httpServer.Close)
	lf.url = httpServer.URL

	lf.client = fh.New(fh.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(httpServer.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
	})
	return lf
}

// deliveredVotes flushes the server and returns how many times each vote_id
// was written to the lake.
func (lf *localFirehose) deliveredVotes(t *testing.T) map[string]int {
	t.Helper()
	if err := lf.server.Flush(context.Background()); err != nil {
		t.Fatalf("flush local Firehose: %v", err)
	}
	counts := make(map[string]int)
	root := filepath.Join(lf.lakeDir, "lake", "votes")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanner := bufio.NewScanner(bytes.NewReader(data))
		scanner.Buffer(nil, FirehoseMaxRecordBytes)
		for scanner.Scan() {
			var env vote.Envelope
			if err := json.Unmarshal(scanner.Bytes(), &env); err != nil {
				t.Fatalf("%s: line %q is not an envelope: %v", path, scanner.Text(), err)
			}
			ballot, err := vote.ParseVote(env.Vote)
			if err != nil {
				t.Fatalf("%s: envelope carries an invalid vote: %v", path, err)
			}
			counts[ballot.VoteID]++
		}
		return scanner.Err()
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("read lake: %v", err)
	}
	return counts
}

// assertAllDelivered checks that votes 0 to n-1 each reached the lake at
// least once, and returns the number of duplicates.
func assertAllDelivered(t *testing.T, delivered map[string]int, n int) (duplicates int) {
	t.Helper()
	missing := 0
	for i := range n {
		count := delivered[testVote(i).VoteID]
		if count == 0 {
			missing++
			if missing <= 10 {
				t.Errorf("vote %s never reached the lake", testVote(i).VoteID)
			}
		}
		duplicates += max(0, count-1)
	}
	if missing > 0 {
		t.Errorf("%d of %d votes never reached the lake", missing, n)
	}
	if len(delivered) > n {
		t.Errorf("lake has %d distinct vote_ids, want %d", len(delivered), n)
	}
	return duplicates
}
