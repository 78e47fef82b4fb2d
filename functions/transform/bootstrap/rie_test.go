package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/votestream/votestream/firehose"
	"github.com/votestream/votestream/infra/migrations"
	"github.com/votestream/votestream/internal/pgcluster/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

var update = flag.Bool("update", false, "rewrite the golden files in ../testdata from the responses")

// rieModule is the AWS Lambda Runtime Interface Emulator that the test
// builds, the same program that `sam local invoke` runs in its container.
const rieModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

const testVoterKeySecret = "rie-test-secret-of-thirty-two-bytes"

// TestBootstrapThroughEmulator builds the real bootstrap binary, runs it
// under the Runtime Interface Emulator against a PostgreSQL seeded with
// testdata/seed.sql, invokes it through firehose.NewHTTPProcessor with
// testdata/direct_put_event.json, and compares the response with
// testdata/direct_put_response.golden.json.
func TestBootstrapThroughEmulator(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("the Lambda Runtime Interface Emulator runs on Linux only, not %s", runtime.GOOS)
	}
	dir := t.TempDir()
	bootstrap := buildBootstrap(t, dir)
	rie := buildEmulator(t, dir)
	databaseURL := seedDatabase(t)

	endpoint := startEmulator(t, rie, bootstrap, []string{
		"DATABASE_URL=" + databaseURL,
		"VOTER_KEY_SECRET=" + testVoterKeySecret,
	})
	process, err := firehose.NewHTTPProcessor(endpoint, firehose.HTTPProcessorOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatalf("NewHTTPProcessor: %v", err)
	}

	event := readEvent(t, "../testdata/direct_put_event.json")
	response, err := process(context.Background(), event)
	if err != nil {
		t.Fatalf("invoke through the emulator: %v", err)
	}
	if len(response.Records) != len(event.Records) {
		t.Fatalf("response has %d records, want %d", len(response.Records), len(event.Records))
	}
	for i, r := range response.Records {
		if r.RecordID != event.Records[i].RecordID {
			t.Errorf("response record %d has recordId %s, want %s (input order)", i, r.RecordID, event.Records[i].RecordID)
		}
	}
	compareGolden(t, "../testdata/direct_put_response.golden.json", readableResponse(t, response))
}

// TestBootstrapDatabaseDownFailsInvocation checks that an unreachable
// database fails the whole invocation, which Firehose retries, instead of
// marking records ProcessingFailed.
func TestBootstrapDatabaseDownFailsInvocation(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("the Lambda Runtime Interface Emulator runs on Linux only, not %s", runtime.GOOS)
	}
	dir := t.TempDir()
	bootstrap := buildBootstrap(t, dir)
	rie := buildEmulator(t, dir)

	// A port that was free a moment ago: nothing listens there.
	closedPort := freePort(t)
	endpoint := startEmulator(t, rie, bootstrap, []string{
		fmt.Sprintf("DATABASE_URL=postgres://nobody@127.0.0.1:%d/none?connect_timeout=2", closedPort),
		"VOTER_KEY_SECRET=" + testVoterKeySecret,
		"DB_ACQUIRE_TIMEOUT=3s",
	})
	process, err := firehose.NewHTTPProcessor(endpoint, firehose.HTTPProcessorOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatalf("NewHTTPProcessor: %v", err)
	}

	_, err = process(context.Background(), readEvent(t, "../testdata/direct_put_event.json"))
	var functionErr *firehose.FunctionError
	if err == nil || !asFunctionError(err, &functionErr) {
		t.Fatalf("invoke with the database down: error = %v, want a *firehose.FunctionError", err)
	}
	if functionErr.ErrorMessage == "" {
		t.Errorf("FunctionError has no errorMessage: %+v", functionErr)
	}
}

func asFunctionError(err error, target **firehose.FunctionError) bool {
	fe, ok := err.(*firehose.FunctionError)
	if ok {
		*target = fe
	}
	return ok
}

// buildBootstrap builds this package for Linux on the host's architecture,
// as `sam build` does for the provided.al2023 runtime.
func buildBootstrap(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build bootstrap: %v\n%s", err, output)
	}
	return out
}

// buildEmulator builds the emulator from the Go module proxy (or the module
// cache) into dir.
func buildEmulator(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command("go", "install", rieModule)
	cmd.Dir = dir // outside this module, so that its go.mod does not apply
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the Lambda Runtime Interface Emulator (%s): %v\n%s", rieModule, err, output)
	}
	return filepath.Join(dir, "aws-lambda-rie")
}

func seedDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	url := pgtest.URL(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := migrations.Apply(ctx, pool); err != nil {
		t.Fatalf("migrations.Apply: %v", err)
	}
	seed, err := os.ReadFile("../testdata/seed.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, string(seed)); err != nil {
		t.Fatalf("run testdata/seed.sql: %v", err)
	}
	return url
}

// startEmulator runs the emulator with bootstrap as the runtime on
// loopback ports, waits until it accepts connections, and returns its base
// URL. The emulator stops when the test ends.
func startEmulator(t *testing.T, rie, bootstrap string, env []string) string {
	t.Helper()
	address := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	runtimeAPI := fmt.Sprintf("127.0.0.1:%d", freePort(t))

	var logs bytes.Buffer
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", address,
		"--runtime-api-address", runtimeAPI,
		"--log-level", "warn",
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	// Only what the function needs: no AWS credentials or endpoints of the
	// machine leak into it.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=us-east-1"}, env...)
	cmd.Stdout = &logs
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the emulator: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("emulator and function output:\n%s", logs.String())
		}
	})

	// Readiness wait, bounded so that a broken emulator fails the test.
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", address, time.Second)
		if err == nil {
			conn.Close()
			return "http://" + address
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not listen on %s within 20s: %v\n%s", address, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func readEvent(t *testing.T, path string) events.KinesisFirehoseEvent {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var event events.KinesisFirehoseEvent
	if err := json.Unmarshal(raw, &event); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return event
}

// readableRecord is a response record with its data decoded into JSON rows,
// so that the golden file shows what the function wrote.
type readableRecord struct {
	RecordID      string            `json:"recordId"`
	Result        string            `json:"result"`
	PartitionKeys map[string]string `json:"partitionKeys,omitempty"`
	Rows          []json.RawMessage `json:"rows,omitempty"`
}

func readableResponse(t *testing.T, response events.KinesisFirehoseResponse) []byte {
	t.Helper()
	records := make([]readableRecord, len(response.Records))
	for i, r := range response.Records {
		records[i] = readableRecord{RecordID: r.RecordID, Result: r.Result, PartitionKeys: r.Metadata.PartitionKeys}
		if r.Result != events.KinesisFirehoseTransformedStateOk {
			continue
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(r.Data), "\n"), "\n") {
			if !json.Valid([]byte(line)) {
				t.Errorf("record %s has a line that is not JSON: %q", r.RecordID, line)
				continue
			}
			records[i].Rows = append(records[i].Rows, json.RawMessage(line))
		}
	}
	out, err := json.MarshalIndent(records, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run the test with -update to create it", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("response differs from %s; got:\n%s", path, got)
	}
}
