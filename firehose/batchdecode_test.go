package firehose

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// batchSeeds are PutRecordBatch bodies that take each branch of
// parsePlainBatch and of the fallback to json.Unmarshal.
var batchSeeds = []string{
	`{"DeliveryStreamName":"votes","Records":[{"Data":"eyJ2b3RlX2lkIjoiYSJ9Cg=="},{"Data":"YWJj"}]}`,
	" {\n \"Records\" : [ { \"Data\" : \"YWJj\" } , {\"Data\":\"\"} ] ,\t\"DeliveryStreamName\" : \"votes\" }\r\n",
	`{"DeliveryStreamName":"votes","Records":[]}`,
	`{"DeliveryStreamName":"votes"}`,
	`{"Records":[{"Data":"YQ=="}]}`,
	`{}`,
	`{"DeliveryStreamName":"a","DeliveryStreamName":"b","Records":[{"Data":"YQ=="}],"Records":[{"Data":"Yg=="}]}`,
	`{"deliverystreamname":"votes","Records":[{"Data":"YQ=="}]}`,
	`{"DeliveryStreamName":"vo\"tes","Records":[{"Data":"YQ=="}]}`,
	`{"DeliveryStreamName":"v\u006ftes","Records":[{"Data":"YQ=="}]}`,
	`{"DeliveryStreamName":"Ströme","Records":[{"Data":"YQ=="}]}`,
	`{"DeliveryStreamName":"votes","Records":[{"Data":"YQ\u003d\u003d"}]}`,
	`{"DeliveryStreamName":"votes","Records":[{"Data":"Y\/=="}]}`,
	"{\"DeliveryStreamName\":\"votes\",\"Records\":[{\"Data\":\"YW\nJj\"}]}",
	`{"DeliveryStreamName":"votes","Records":[{"Data":"YQ"}]}`,
	`{"DeliveryStreamName":"votes","Records":[{"Data":"Y!=="}]}`,
	`{"DeliveryStreamName":"votes","Records":[{"Data":null}]}`,
	`{"DeliveryStreamName":"votes","Records":null}`,
	`{"DeliveryStreamName":"votes","Records":[{}]}`,
	`{"DeliveryStreamName":"votes","Records":[{"Data":"YQ==","PartitionKey":"x"}]}`,
	`{"DeliveryStreamName":"votes","Records":[{"Data":"YQ=="}],"Extra":1}`,
	`{"DeliveryStreamName":7,"Records":[]}`,
	`{"DeliveryStreamName":"votes","Records":[{"Data":"YQ=="},]}`,
	`{"DeliveryStreamName":"votes","Records":[{"Data":"YQ=="}]`,
	`{"DeliveryStreamName":"votes","Records":[{"Data":"YQ=="}]}}`,
	`{"DeliveryStreamName":"votes",}`,
	`{"DeliveryStreamName" "votes"}`,
	`[]`,
	`null`,
	``,
}

// checkSameAsUnmarshalBatch fails t when decodePutRecordBatch and
// json.Unmarshal disagree on body.
func checkSameAsUnmarshalBatch(t *testing.T, body []byte) {
	t.Helper()
	var want putRecordBatchInput
	wantErr := json.Unmarshal(body, &want)

	var plain putRecordBatchInput
	if parsePlainBatch(body, &plain) {
		if wantErr != nil {
			t.Fatalf("parsePlainBatch accepted %q, which json.Unmarshal rejects: %v", body, wantErr)
		}
		if !sameBatchInput(plain, want) {
			t.Fatalf("parsePlainBatch(%q) = %s, json.Unmarshal = %s", body, describeBatchInput(plain), describeBatchInput(want))
		}
	}

	got, gotErr := decodePutRecordBatch(body)
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("decodePutRecordBatch(%q) error %v, json.Unmarshal error %v", body, gotErr, wantErr)
	}
	if gotErr == nil && !sameBatchInput(got, want) {
		t.Fatalf("decodePutRecordBatch(%q) = %s, json.Unmarshal = %s", body, describeBatchInput(got), describeBatchInput(want))
	}
}

// sameBatchInput compares two inputs as the API handler reads them: a nil
// and an empty slice of records or of data are the same.
func sameBatchInput(a, b putRecordBatchInput) bool {
	if a.DeliveryStreamName != b.DeliveryStreamName || len(a.Records) != len(b.Records) {
		return false
	}
	for i := range a.Records {
		if !bytes.Equal(a.Records[i].Data, b.Records[i].Data) {
			return false
		}
	}
	return true
}

func describeBatchInput(in putRecordBatchInput) string {
	var data []string
	for _, r := range in.Records {
		data = append(data, fmt.Sprintf("%q", r.Data))
	}
	return fmt.Sprintf("{stream %q, records [%s]}", in.DeliveryStreamName, strings.Join(data, " "))
}

func TestDecodePutRecordBatchMatchesUnmarshal(t *testing.T) {
	for _, seed := range batchSeeds {
		checkSameAsUnmarshalBatch(t, []byte(seed))
	}
}

func FuzzDecodePutRecordBatch(f *testing.F) {
	for _, seed := range batchSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkSameAsUnmarshalBatch(t, body)
	})
}

func TestParsePlainBatchTakesSDKBodies(t *testing.T) {
	// The body the AWS SDK for Go v2 sends, with its member order.
	body := []byte(`{"DeliveryStreamName":"votes","Records":[{"Data":"YWJj"},{"Data":"ZGVm"}]}`)
	var in putRecordBatchInput
	if !parsePlainBatch(body, &in) {
		t.Fatalf("parsePlainBatch rejected %s", body)
	}
	want := putRecordBatchInput{DeliveryStreamName: "votes", Records: []recordInput{{Data: []byte("abc")}, {Data: []byte("def")}}}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("parsePlainBatch = %s, want %s", describeBatchInput(in), describeBatchInput(want))
	}

	// Records share one buffer, so appending to one must not overwrite the next.
	in.Records[0].Data = append(in.Records[0].Data, 'X')
	if got := string(in.Records[1].Data); got != "def" {
		t.Errorf("record 1 = %q after appending to record 0, want def", got)
	}
}

func BenchmarkDecodePutRecordBatch(b *testing.B) {
	body := sdkBatchBody(b, 190, 20<<10)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decodePutRecordBatch(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalPutRecordBatch(b *testing.B) {
	body := sdkBatchBody(b, 190, 20<<10)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var in putRecordBatchInput
		if err := json.Unmarshal(body, &in); err != nil {
			b.Fatal(err)
		}
	}
}

// sdkBatchBody returns a PutRecordBatch body of n records of size bytes each,
// about as large as the bridge's calls.
func sdkBatchBody(b *testing.B, n, size int) []byte {
	in := putRecordBatchInput{DeliveryStreamName: "votes"}
	line := []byte(`{"topic":"votes_topic","partition":3,"offset":12345,"timestamp":"2024-07-04T14:03:00.000Z","vote":{"vote_id":"5b0f8c1e"}}` + "\n")
	for range n {
		in.Records = append(in.Records, recordInput{Data: bytes.Repeat(line, size/len(line))})
	}
	body, err := json.Marshal(in)
	if err != nil {
		b.Fatal(err)
	}
	return body
}
