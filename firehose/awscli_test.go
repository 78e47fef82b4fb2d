package firehose

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// awsCLI runs the AWS CLI against the test server with static credentials
// and no configuration of the machine, and returns its standard output.
type awsCLI struct {
	path     string
	major    int // 1 or 2, because the two versions read blob parameters differently
	endpoint string
	env      []string
}

// newAWSCLI finds the AWS CLI, preferring Debian's awscli package. The test
// fails rather than skips when it is missing, so that CI cannot pass
// without the client.
func newAWSCLI(t *testing.T, endpoint string) *awsCLI {
	t.Helper()
	path := "/usr/bin/aws"
	if _, err := os.Stat(path); err != nil {
		if path, err = exec.LookPath("aws"); err != nil {
			t.Fatalf("the AWS CLI is missing: install it with 'apt-get install awscli' or run .ci/setup")
		}
	}
	home := t.TempDir()
	cli := &awsCLI{path: path, endpoint: endpoint, env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	}}

	version := cli.run(t, "--version")
	switch {
	case strings.HasPrefix(version, "aws-cli/2."):
		cli.major = 2
	case strings.HasPrefix(version, "aws-cli/1."):
		cli.major = 1
	default:
		t.Fatalf("%s --version = %q, want aws-cli/1.x or aws-cli/2.x", path, version)
	}
	t.Logf("AWS CLI: %s", strings.TrimSpace(version))
	return cli
}

func (c *awsCLI) run(t *testing.T, args ...string) string {
	t.Helper()
	if args[0] != "--version" {
		args = append([]string{"--endpoint-url", c.endpoint, "--output", "json"}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.path, args...)
	cmd.Env = c.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// blob returns data as the CLI reads a blob parameter in JSON input:
// version 2 expects base64, version 1 takes the text as it is.
func (c *awsCLI) blob(data []byte) string {
	if c.major == 2 {
		return base64.StdEncoding.EncodeToString(data)
	}
	return string(data)
}

func TestAWSCLIRoundTrip(t *testing.T) {
	env := newTestEnv(t, echoProcessor, "")
	cli := newAWSCLI(t, env.http.URL)
	castAt := time.Date(2024, 11, 5, 14, 3, 7, 0, time.UTC)

	batch := []map[string]string{
		{"Data": cli.blob(packRecord(t, 0, 3, castAt))},
		{"Data": cli.blob(packRecord(t, 3, 2, castAt))},
	}
	records, err := json.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	recordsFile := filepath.Join(t.TempDir(), "records.json")
	if err := os.WriteFile(recordsFile, records, 0o600); err != nil {
		t.Fatal(err)
	}
	var batchOut struct {
		FailedPutCount   int
		RequestResponses []struct{ RecordId string }
	}
	decodeCLI(t, cli.run(t, "firehose", "put-record-batch", "--delivery-stream-name", env.stream.Name, "--records", "file://"+recordsFile), &batchOut)
	if batchOut.FailedPutCount != 0 {
		t.Errorf("put-record-batch FailedPutCount = %d, want 0", batchOut.FailedPutCount)
	}
	if len(batchOut.RequestResponses) != 2 {
		t.Fatalf("put-record-batch returned %d RequestResponses, want 2", len(batchOut.RequestResponses))
	}

	single, err := json.Marshal(map[string]string{"Data": cli.blob(packRecord(t, 5, 1, castAt))})
	if err != nil {
		t.Fatal(err)
	}
	var putOut struct{ RecordId string }
	decodeCLI(t, cli.run(t, "firehose", "put-record", "--delivery-stream-name", env.stream.Name, "--record", string(single)), &putOut)
	if putOut.RecordId == "" {
		t.Error("put-record returned no RecordId")
	}

	var described struct {
		DeliveryStreamDescription struct {
			DeliveryStreamName   string
			DeliveryStreamARN    string
			DeliveryStreamStatus string
		}
	}
	decodeCLI(t, cli.run(t, "firehose", "describe-delivery-stream", "--delivery-stream-name", env.stream.Name), &described)
	desc := described.DeliveryStreamDescription
	if desc.DeliveryStreamName != env.stream.Name || desc.DeliveryStreamARN != env.stream.ARN || desc.DeliveryStreamStatus != "ACTIVE" {
		t.Errorf("describe-delivery-stream = %+v, want %s, %s, ACTIVE", desc, env.stream.Name, env.stream.ARN)
	}

	var listed struct{ DeliveryStreamNames []string }
	decodeCLI(t, cli.run(t, "firehose", "list-delivery-streams"), &listed)
	if len(listed.DeliveryStreamNames) != 1 || listed.DeliveryStreamNames[0] != env.stream.Name {
		t.Errorf("list-delivery-streams = %v, want [%s]", listed.DeliveryStreamNames, env.stream.Name)
	}

	if err := env.server.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	keys := env.lakeFiles(t, "votes/election_id="+testElection+"/dt=2024-11-05/hour=14/")
	if len(keys) == 0 {
		t.Fatalf("no Parquet object under the partition; lake has %v", env.lakeFiles(t, ""))
	}
	var voteIDs []string
	for _, key := range keys {
		table := readParquet(t, filepath.Join(env.lakeDir, env.stream.Bucket, filepath.FromSlash(key)))
		column := table.Column(table.Schema().FieldIndices("vote_id")[0])
		for _, chunk := range column.Data().Chunks() {
			values := chunk.(*array.String)
			for i := range values.Len() {
				voteIDs = append(voteIDs, values.Value(i))
			}
		}
	}
	sort.Strings(voteIDs)
	want := []string{"vote-0000", "vote-0001", "vote-0002", "vote-0003", "vote-0004", "vote-0005"}
	if strings.Join(voteIDs, ",") != strings.Join(want, ",") {
		t.Errorf("vote_id values in the lake = %v, want %v", voteIDs, want)
	}
}

func decodeCLI(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("decode AWS CLI output %q: %v", out, err)
	}
}
