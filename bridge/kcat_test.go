package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/vote"
)

// kcatTimeout bounds one kcat run. kcat exits by itself at the end of the
// topic (-e), so the bound only guards against a hang.
const kcatTimeout = 30 * time.Second

// kcatMessage is one line of kcat's JSON envelope output (-J). The JSON
// envelope returns a header value that contains commas or spaces, as a
// reason does, unchanged. The comma-separated n=v list of '-f %h' would
// make such a value ambiguous.
type kcatMessage struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Key       *string `json:"key"`
	Payload   *string `json:"payload"`
	// RawHeaders alternates names and values. kcat 1.7.1 prints this flat
	// array, although its -h text describes an object.
	RawHeaders []string `json:"headers"`
}

// headers returns the message's headers by name.
func (m kcatMessage) headers() (map[string]string, error) {
	if len(m.RawHeaders)%2 != 0 {
		return nil, fmt.Errorf("headers array %q has an odd length", m.RawHeaders)
	}
	byName := make(map[string]string)
	for i := 0; i < len(m.RawHeaders); i += 2 {
		byName[m.RawHeaders[i]] = m.RawHeaders[i+1]
	}
	return byName, nil
}

// sourceMessage is a bad message as it was produced to the votes topic.
type sourceMessage struct {
	value     []byte
	partition int32
	offset    int64
}

// TestDeadLettersReadByKcat checks the dead-letter topic with an
// independent Kafka client, librdkafka through kcat, so that the headers
// are read by code that votestream did not write.
func TestDeadLettersReadByKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat not found in PATH: install it with 'apt-get install kcat' or run 'bash .ci/setup': %v", err)
	}

	cluster := newCluster(t, 3)
	producer := newClient(t, cluster)
	const votes = 300
	produceVotes(t, producer, 0, votes/2)
	sources := produceBadWithCoordinates(t, producer)
	produceVotes(t, producer, votes/2, votes)

	cfg := testConfig(t, cluster, &fakeFirehose{})
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	stop := runBridge(t, b)
	waitFor(t, "every vote accepted and every bad message dead-lettered", func() bool {
		s := b.Stats()
		return s.VotesSent >= votes && s.DeadLettered == int64(len(sources))
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	messages := runKcat(t, kcat, cluster.ListenAddrs()[0], vote.DeadLetterTopic)
	if len(messages) != len(sources) {
		t.Errorf("kcat read %d messages from %s, want %d", len(messages), vote.DeadLetterTopic, len(sources))
	}

	byKey := make(map[string]kcatMessage)
	for _, msg := range messages {
		if msg.Key == nil {
			t.Errorf("kcat: message at %d/%d has no key", msg.Partition, msg.Offset)
			continue
		}
		byKey[*msg.Key] = msg
	}
	for _, key := range sortedKeys(sources) {
		src := sources[key]
		msg, ok := byKey[key]
		if !ok {
			t.Errorf("kcat did not see the dead letter of %q", key)
			continue
		}
		headers, err := msg.headers()
		if err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		if got := headers[HeaderSourceTopic]; got != vote.VotesTopic {
			t.Errorf("%s: %s = %q, want %q", key, HeaderSourceTopic, got, vote.VotesTopic)
		}
		if got, want := headers[HeaderSourcePartition], strconv.Itoa(int(src.partition)); got != want {
			t.Errorf("%s: %s = %q, want %q", key, HeaderSourcePartition, got, want)
		}
		if got, want := headers[HeaderSourceOffset], strconv.FormatInt(src.offset, 10); got != want {
			t.Errorf("%s: %s = %q, want %q", key, HeaderSourceOffset, got, want)
		}
		if got, want := headers[HeaderReason], expectedReason(src.value); !strings.Contains(got, want) {
			t.Errorf("%s: %s = %q, want it to contain %q", key, HeaderReason, got, want)
		}

		// kcat prints a null payload for a nil value, and a payload that is
		// not valid UTF-8 cannot come back unchanged through JSON.
		switch {
		case src.value == nil && msg.Payload != nil:
			t.Errorf("%s: payload = %q, want null", key, *msg.Payload)
		case src.value != nil && utf8.Valid(src.value) && (msg.Payload == nil || *msg.Payload != string(src.value)):
			t.Errorf("%s: payload = %v, want the source value %q unchanged", key, msg.Payload, src.value)
		}
	}
}

// produceBadWithCoordinates produces badMessages one at a time and returns
// them by key with the partition and offset the broker gave each.
func produceBadWithCoordinates(t *testing.T, client *kgo.Client) map[string]sourceMessage {
	t.Helper()
	sources := make(map[string]sourceMessage)
	for name, value := range badMessages() {
		rec := &kgo.Record{Topic: vote.VotesTopic, Key: []byte("bad-" + name), Value: value}
		if err := client.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Fatalf("produce bad message %q: %v", name, err)
		}
		sources[string(rec.Key)] = sourceMessage{value: value, partition: rec.Partition, offset: rec.Offset}
	}
	return sources
}

// expectedReason returns the part of the reason header that the bridge
// must write for value: the validation error of vote.ParseVote, or the
// size check for a valid vote that is too large for a Firehose record.
func expectedReason(value []byte) string {
	if _, err := vote.ParseVote(value); err != nil {
		return err.Error()
	}
	return "exceeds the Firehose record limit"
}

// runKcat consumes topic from the beginning to its end with kcat and
// returns the messages it printed.
func runKcat(t *testing.T, kcat, broker, topic string) []kcatMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kcatTimeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, kcat, "-C", "-b", broker, "-t", topic, "-o", "beginning", "-e", "-q", "-J")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\nstderr:\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}

	var messages []kcatMessage
	scanner := bufio.NewScanner(bytes.NewReader(out))
	scanner.Buffer(nil, 4*FirehoseMaxRecordBytes)
	for scanner.Scan() {
		var msg kcatMessage
		if err := json.Unmarshal(scanner.Bytes(), &msg); err != nil {
			t.Fatalf("kcat printed a line that is not a JSON envelope: %q: %v", scanner.Text(), err)
		}
		messages = append(messages, msg)
	}
	if err := scanner.Err(); err != nil {
		t.Fatalf("read kcat output: %v", err)
	}
	return messages
}

func sortedKeys(m map[string]sourceMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
