package vote

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestAppendEnvelopeMatchesMarshal(t *testing.T) {
	at := time.Date(2024, 11, 5, 14, 3, 7, 250_000_000, time.FixedZone("EST", -5*3600))
	cases := []struct {
		name string
		raw  string
	}{
		{"compact", `{"vote_id":"a","election_id":"e","voter_id":"1","candidate_id":"2","cast_at":"2024-11-05T14:03:00.000Z","channel":"postal"}`},
		{"escapes and accents", `{"vote_id":"a\"b","note":"Áine <&> \u00e9"}`},
		{"pretty printed", "{\n  \"vote_id\": \"a\",\r\n  \"n\": [1, 2]\n}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendEnvelope(nil, "votes_topic", 3, 12345, at, []byte(tc.raw))
			if bytes.ContainsAny(got, "\r\n") {
				t.Errorf("envelope has a line break: %s", got)
			}
			var decoded, want Envelope
			if err := json.Unmarshal(got, &decoded); err != nil {
				t.Fatalf("envelope is not valid JSON: %v\n%s", err, got)
			}
			marshalled, err := json.Marshal(Envelope{Topic: "votes_topic", Partition: 3, Offset: 12345, Timestamp: FormatTime(at), Vote: json.RawMessage(tc.raw)})
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(marshalled, &want); err != nil {
				t.Fatal(err)
			}
			if decoded.Topic != want.Topic || decoded.Partition != want.Partition || decoded.Offset != want.Offset || decoded.Timestamp != want.Timestamp {
				t.Errorf("envelope = %+v, want %+v", decoded, want)
			}
			var gotVote, wantVote any
			json.Unmarshal(decoded.Vote, &gotVote)
			json.Unmarshal(want.Vote, &wantVote)
			if !jsonEqual(gotVote, wantVote) {
				t.Errorf("vote = %s, want %s", decoded.Vote, want.Vote)
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func BenchmarkAppendEnvelope(b *testing.B) {
	raw := []byte(`{"vote_id":"5b0f8c1e-3c55-4e0b-9a63-6f1d6b0c7a10","election_id":"uk-ge-2024","voter_id":"12345678","candidate_id":"1234","cast_at":"2024-07-04T14:03:00.000Z","channel":"in_person"}`)
	at := time.Now()
	var buf []byte
	for b.Loop() {
		buf = AppendEnvelope(buf[:0], "votes_topic", 3, 12345, at, raw)
	}
}

func BenchmarkMarshalEnvelope(b *testing.B) {
	raw := []byte(`{"vote_id":"5b0f8c1e-3c55-4e0b-9a63-6f1d6b0c7a10","election_id":"uk-ge-2024","voter_id":"12345678","candidate_id":"1234","cast_at":"2024-07-04T14:03:00.000Z","channel":"in_person"}`)
	at := time.Now()
	for b.Loop() {
		json.Marshal(Envelope{Topic: "votes_topic", Partition: 3, Offset: 12345, Timestamp: FormatTime(at), Vote: raw})
	}
}

func TestAppendCastAtLayoutMatchesFormat(t *testing.T) {
	times := []time.Time{
		time.Date(2024, 11, 5, 14, 3, 7, 250_000_000, time.FixedZone("EST", -5*3600)),
		time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1, 2, 3, 4, 5, 6, 7_000_000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 1_000_000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.UnixMilli(1730815387123),
		{},
	}
	for _, at := range times {
		got := string(appendCastAtLayout([]byte("x"), at))
		if want := "x" + at.UTC().Format(CastAtLayout); got != want {
			t.Errorf("appendCastAtLayout(%v) = %q, want %q", at, got, want)
		}
	}
}
